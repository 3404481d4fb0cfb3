/*
 * The image file and its control file: open, validate against the file
 * size, index the symbol and segment tables, and map the control file.
 * This is the simulator's stand-in for /dev/mem, /dev/kmem and the kernel's
 * symbol table (kldsym(2) for live kernels, the ELF .symtab for dumps); the
 * format is specified in ../README.md.
 *
 * Everything here is validated once, at open, so that a truncated or
 * garbage file gives a clear error instead of a crash later. Longer than
 * most files because each table gets its own bounds check and message.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kvm_private.h"

/* Header field offsets (../README.md, "Header"). */
#define H_MAGIC 0
#define H_VERSION 8
#define H_HEADER_SIZE 12
#define H_FLAGS 16
#define H_NSYMS 20
#define H_SYMTAB_OFF 24
#define H_STRTAB_OFF 32
#define H_STRTAB_SIZE 40
#define H_NSEGS 48
#define H_KINFO_SIZE 52
#define H_SEGTAB_OFF 56
#define H_PROCS_OFF 64
#define H_PROC_CAPACITY 72
#define H_ARGS_OFF 80
#define H_ARGS_SIZE 88

struct image_header {
	uint32_t version, header_size, flags, nsyms, nsegs, kinfo_size;
	uint32_t proc_capacity;
	uint64_t symtab_off, strtab_off, strtab_size, segtab_off, procs_off;
	uint64_t args_off, args_size;
};

#define IMG_ERR(...) (void)snprintf(err, errlen, __VA_ARGS__)

/* True if [off, off + count * size) fits in a file of file_size bytes. */
static int
table_fits(uint64_t off, uint64_t count, uint64_t size, uint64_t file_size)
{
	if (off > file_size)
		return (0);
	if (size != 0 && count > (file_size - off) / size)
		return (0);
	return (1);
}

static int
read_exact(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t n;

	n = pread(fd, buf, len, (off_t)off);
	if (n >= 0)
		kvmsim_stat_bump(KVMSIM_STAT_pread);
	return (n == (ssize_t)len ? 0 : -1);
}

static void
parse_header(const uint8_t *h, struct image_header *hdr)
{
	hdr->version = kvmsim_le32(h + H_VERSION);
	hdr->header_size = kvmsim_le32(h + H_HEADER_SIZE);
	hdr->flags = kvmsim_le32(h + H_FLAGS);
	hdr->nsyms = kvmsim_le32(h + H_NSYMS);
	hdr->symtab_off = kvmsim_le64(h + H_SYMTAB_OFF);
	hdr->strtab_off = kvmsim_le64(h + H_STRTAB_OFF);
	hdr->strtab_size = kvmsim_le64(h + H_STRTAB_SIZE);
	hdr->nsegs = kvmsim_le32(h + H_NSEGS);
	hdr->kinfo_size = kvmsim_le32(h + H_KINFO_SIZE);
	hdr->segtab_off = kvmsim_le64(h + H_SEGTAB_OFF);
	hdr->procs_off = kvmsim_le64(h + H_PROCS_OFF);
	hdr->proc_capacity = kvmsim_le32(h + H_PROC_CAPACITY);
	hdr->args_off = kvmsim_le64(h + H_ARGS_OFF);
	hdr->args_size = kvmsim_le64(h + H_ARGS_SIZE);
}

static int
check_header(const char *path, const uint8_t *h, uint64_t file_size,
    struct image_header *hdr, char *err, size_t errlen)
{
	if (file_size < 8 || memcmp(h + H_MAGIC, KVMSIM_MAGIC, 8) != 0) {
		IMG_ERR("%s: not a simulated kernel image (bad magic)", path);
		return (-1);
	}
	if (file_size < KVMSIM_HEADER_SIZE) {
		IMG_ERR("%s: not a simulated kernel image (%ju bytes, shorter "
		    "than the %d-byte header)", path, (uintmax_t)file_size,
		    KVMSIM_HEADER_SIZE);
		return (-1);
	}
	parse_header(h, hdr);
	if (hdr->version != KVMSIM_VERSION) {
		IMG_ERR("%s: simulated kernel image version %u, this library "
		    "reads version %d", path, hdr->version, KVMSIM_VERSION);
		return (-1);
	}
	if (hdr->header_size != KVMSIM_HEADER_SIZE) {
		IMG_ERR("%s: header_size %u in the image header, expected %d",
		    path, hdr->header_size, KVMSIM_HEADER_SIZE);
		return (-1);
	}
	if (hdr->kinfo_size != KVMSIM_KINFO_PROC_SIZE) {
		IMG_ERR("%s: kinfo_size %u in the image header, expected %d "
		    "(KINFO_PROC_SIZE on amd64)", path, hdr->kinfo_size,
		    KVMSIM_KINFO_PROC_SIZE);
		return (-1);
	}
	return (0);
}

static int
check_tables(const char *path, const struct image_header *hdr,
    uint64_t file_size, char *err, size_t errlen)
{
	if (!table_fits(hdr->symtab_off, hdr->nsyms, KVMSIM_SYM_SIZE,
	    file_size)) {
		IMG_ERR("%s: symbol table past end of file (%u entries at "
		    "offset %ju, file is %ju bytes)", path, hdr->nsyms,
		    (uintmax_t)hdr->symtab_off, (uintmax_t)file_size);
		return (-1);
	}
	if (!table_fits(hdr->strtab_off, hdr->strtab_size, 1, file_size)) {
		IMG_ERR("%s: string table past end of file (%ju bytes at "
		    "offset %ju, file is %ju bytes)", path,
		    (uintmax_t)hdr->strtab_size, (uintmax_t)hdr->strtab_off,
		    (uintmax_t)file_size);
		return (-1);
	}
	if (!table_fits(hdr->segtab_off, hdr->nsegs, KVMSIM_SEG_SIZE,
	    file_size)) {
		IMG_ERR("%s: segment table past end of file (%u entries at "
		    "offset %ju, file is %ju bytes)", path, hdr->nsegs,
		    (uintmax_t)hdr->segtab_off, (uintmax_t)file_size);
		return (-1);
	}
	if (!table_fits(hdr->procs_off, hdr->proc_capacity, hdr->kinfo_size,
	    file_size)) {
		IMG_ERR("%s: process area past end of file (%u records of %u "
		    "bytes at offset %ju, file is %ju bytes)", path,
		    hdr->proc_capacity, hdr->kinfo_size,
		    (uintmax_t)hdr->procs_off, (uintmax_t)file_size);
		return (-1);
	}
	/* The argument area is optional (0 bytes: no process has arguments). */
	if (hdr->args_size != 0 && (hdr->args_size <
	    (uint64_t)hdr->proc_capacity * KVMSIM_ARGS_INDEX_SIZE ||
	    !table_fits(hdr->args_off, 1, hdr->args_size, file_size))) {
		IMG_ERR("%s: argument area past end of file or smaller than "
		    "its index (%ju bytes at offset %ju, file is %ju bytes)",
		    path, (uintmax_t)hdr->args_size, (uintmax_t)hdr->args_off,
		    (uintmax_t)file_size);
		return (-1);
	}
	return (0);
}

static int
cmp_sym_name(const void *a, const void *b)
{
	return (strcmp(((const struct kvmsim_sym *)a)->name,
	    ((const struct kvmsim_sym *)b)->name));
}

static int
cmp_seg_kva(const void *a, const void *b)
{
	uint64_t ka = ((const struct kvmsim_seg *)a)->kva;
	uint64_t kb = ((const struct kvmsim_seg *)b)->kva;

	return (ka < kb ? -1 : ka > kb ? 1 : 0);
}

static int
load_strtab(struct kvmsim_image *img, const struct image_header *hdr,
    char *err, size_t errlen)
{
	img->strtab = malloc(hdr->strtab_size + 1);
	if (img->strtab == NULL) {
		IMG_ERR("%s: cannot allocate %ju bytes for the string table",
		    img->path, (uintmax_t)hdr->strtab_size);
		return (-1);
	}
	if (read_exact(img->fd, img->strtab, hdr->strtab_size,
	    hdr->strtab_off) != 0) {
		IMG_ERR("%s: cannot read the string table at offset %ju",
		    img->path, (uintmax_t)hdr->strtab_off);
		return (-1);
	}
	img->strtab[hdr->strtab_size] = '\0';
	return (0);
}

static int
load_symbols(struct kvmsim_image *img, const struct image_header *hdr,
    char *err, size_t errlen)
{
	uint8_t *raw;
	uint32_t i, name_off;

	if (load_strtab(img, hdr, err, errlen) != 0)
		return (-1);
	raw = malloc((size_t)hdr->nsyms * KVMSIM_SYM_SIZE + 1);
	img->syms = calloc(hdr->nsyms + 1, sizeof(*img->syms));
	if (raw == NULL || img->syms == NULL) {
		free(raw);
		IMG_ERR("%s: cannot allocate the symbol table (%u entries)",
		    img->path, hdr->nsyms);
		return (-1);
	}
	if (read_exact(img->fd, raw, (size_t)hdr->nsyms * KVMSIM_SYM_SIZE,
	    hdr->symtab_off) != 0) {
		free(raw);
		IMG_ERR("%s: cannot read the symbol table at offset %ju",
		    img->path, (uintmax_t)hdr->symtab_off);
		return (-1);
	}
	for (i = 0; i < hdr->nsyms; i++) {
		const uint8_t *e = raw + (size_t)i * KVMSIM_SYM_SIZE;

		name_off = kvmsim_le32(e + 16);
		if (name_off >= hdr->strtab_size) {
			free(raw);
			IMG_ERR("%s: symbol %u name offset %u past end of the "
			    "%ju-byte string table", img->path, i, name_off,
			    (uintmax_t)hdr->strtab_size);
			return (-1);
		}
		img->syms[i].name = img->strtab + name_off;
		img->syms[i].value = kvmsim_le64(e);
		img->syms[i].size = kvmsim_le64(e + 8);
		img->syms[i].n_type = e[20];
	}
	free(raw);
	img->nsyms = hdr->nsyms;
	qsort(img->syms, img->nsyms, sizeof(*img->syms), cmp_sym_name);
	return (0);
}

static int
check_segment(const struct kvmsim_image *img, uint32_t i,
    const struct kvmsim_seg *s, uint64_t file_size, char *err, size_t errlen)
{
	if (!table_fits(s->file_off, s->size, 1, file_size)) {
		IMG_ERR("%s: segment %u data past end of file (%ju bytes at "
		    "offset %ju, file is %ju bytes)", img->path, i,
		    (uintmax_t)s->size, (uintmax_t)s->file_off,
		    (uintmax_t)file_size);
		return (-1);
	}
	if (s->size == 0 || s->kva + s->size < s->kva) {
		IMG_ERR("%s: segment %u at kva 0x%jx has an invalid size %ju",
		    img->path, i, (uintmax_t)s->kva, (uintmax_t)s->size);
		return (-1);
	}
	return (0);
}

static int
load_segments(struct kvmsim_image *img, const struct image_header *hdr,
    uint64_t file_size, char *err, size_t errlen)
{
	uint8_t *raw;
	uint32_t i;

	raw = malloc((size_t)hdr->nsegs * KVMSIM_SEG_SIZE + 1);
	img->segs = calloc(hdr->nsegs + 1, sizeof(*img->segs));
	if (raw == NULL || img->segs == NULL ||
	    read_exact(img->fd, raw, (size_t)hdr->nsegs * KVMSIM_SEG_SIZE,
	    hdr->segtab_off) != 0) {
		free(raw);
		IMG_ERR("%s: cannot read the segment table (%u entries at "
		    "offset %ju)", img->path, hdr->nsegs,
		    (uintmax_t)hdr->segtab_off);
		return (-1);
	}
	for (i = 0; i < hdr->nsegs; i++) {
		const uint8_t *e = raw + (size_t)i * KVMSIM_SEG_SIZE;

		img->segs[i].kva = kvmsim_le64(e);
		img->segs[i].size = kvmsim_le64(e + 8);
		img->segs[i].file_off = kvmsim_le64(e + 16);
		if (check_segment(img, i, &img->segs[i], file_size, err,
		    errlen) != 0) {
			free(raw);
			return (-1);
		}
	}
	free(raw);
	img->nsegs = hdr->nsegs;
	qsort(img->segs, img->nsegs, sizeof(*img->segs), cmp_seg_kva);
	for (i = 1; i < img->nsegs; i++) {
		if (img->segs[i - 1].kva + img->segs[i - 1].size >
		    img->segs[i].kva) {
			IMG_ERR("%s: segments at kva 0x%jx and 0x%jx overlap",
			    img->path, (uintmax_t)img->segs[i - 1].kva,
			    (uintmax_t)img->segs[i].kva);
			return (-1);
		}
	}
	return (0);
}

static int
open_image_fd(struct kvmsim_image *img, uint64_t *file_size, char *err,
    size_t errlen)
{
	struct stat st;

	img->fd = open(img->path, O_RDONLY | O_CLOEXEC);
	if (img->fd < 0 || fstat(img->fd, &st) != 0) {
		IMG_ERR("%s: %s", img->path, strerror(errno));
		return (-1);
	}
	if (!S_ISREG(st.st_mode)) {
		IMG_ERR("%s: not a simulated kernel image (not a regular "
		    "file)", img->path);
		return (-1);
	}
	if (st.st_size <= 0) {
		IMG_ERR("empty file: %s", strerror(EINVAL));
		return (-1);
	}
	*file_size = (uint64_t)st.st_size;
	return (0);
}

static int
load_image(struct kvmsim_image *img, char *err, size_t errlen)
{
	uint8_t header[KVMSIM_HEADER_SIZE];
	struct image_header hdr;
	uint64_t file_size;
	ssize_t n;

	if (open_image_fd(img, &file_size, err, errlen) != 0)
		return (-1);
	memset(header, 0, sizeof(header));
	n = pread(img->fd, header, sizeof(header), 0);
	if (n < 0) {
		IMG_ERR("%s: %s", img->path, strerror(errno));
		return (-1);
	}
	kvmsim_stat_bump(KVMSIM_STAT_pread);
	if (check_header(img->path, header, (uint64_t)n, &hdr, err,
	    errlen) != 0 ||
	    check_tables(img->path, &hdr, file_size, err, errlen) != 0)
		return (-1);
	img->flags = hdr.flags;
	img->kinfo_size = hdr.kinfo_size;
	img->procs_off = hdr.procs_off;
	img->proc_capacity = hdr.proc_capacity;
	img->args_off = hdr.args_off;
	img->args_size = hdr.args_size;
	if (load_symbols(img, &hdr, err, errlen) != 0 ||
	    load_segments(img, &hdr, file_size, err, errlen) != 0)
		return (-1);
	return (kvmsim_ctl_map(img->path, &img->ctl, err, errlen));
}

int
kvmsim_image_open(const char *path, struct kvmsim_image **out, char *err,
    size_t errlen)
{
	struct kvmsim_image *img;

	*out = NULL;
	if (strlen(path) >= KVMSIM_MAXPATHLEN) {
		IMG_ERR("%.64s...: image path too long", path);
		return (-1);
	}
	img = calloc(1, sizeof(*img));
	if (img == NULL) {
		IMG_ERR("%s: %s", path, strerror(errno));
		return (-1);
	}
	(void)snprintf(img->path, sizeof(img->path), "%s", path);
	img->fd = -1;
	if (load_image(img, err, errlen) != 0) {
		kvmsim_image_close(img);
		return (-1);
	}
	*out = img;
	return (0);
}

void
kvmsim_image_close(struct kvmsim_image *img)
{
	if (img == NULL)
		return;
	if (img->fd >= 0)
		(void)close(img->fd);
	if (img->ctl != NULL)
		kvmsim_ctl_unmap(img->ctl);
	free(img->syms);
	free(img->strtab);
	free(img->segs);
	free(img);
}

const struct kvmsim_sym *
kvmsim_image_lookup(const struct kvmsim_image *img, const char *name)
{
	struct kvmsim_sym key;

	if (img == NULL || img->nsyms == 0)
		return (NULL);
	key.name = name;
	return (bsearch(&key, img->syms, img->nsyms, sizeof(*img->syms),
	    cmp_sym_name));
}

/* The segment holding kva, or NULL if no segment maps it. */
const struct kvmsim_seg *
kvmsim_image_segment(const struct kvmsim_image *img, uint64_t kva)
{
	uint32_t lo = 0, hi;

	if (img == NULL)
		return (NULL);
	hi = img->nsegs;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct kvmsim_seg *s = &img->segs[mid];

		if (kva < s->kva)
			hi = mid;
		else if (kva - s->kva >= s->size)
			lo = mid + 1;
		else
			return (s);
	}
	return (NULL);
}

/* One pread(2) of image data, counted. */
ssize_t
kvmsim_image_pread(const struct kvmsim_image *img, void *buf, size_t len,
    uint64_t file_off)
{
	kvmsim_stat_bump(KVMSIM_STAT_pread);
	return (pread(img->fd, buf, len, (off_t)file_off));
}

/*
 * Reads kernel memory the way the kernel itself would for a sysctl: no
 * injected faults, no delay. Returns 0, or -1 if any byte is unmapped or
 * the image is shorter than its tables say.
 */
int
kvmsim_image_read_direct(const struct kvmsim_image *img, uint64_t kva,
    void *buf, size_t len)
{
	uint8_t *cp = buf;

	while (len > 0) {
		const struct kvmsim_seg *s = kvmsim_image_segment(img, kva);
		uint64_t avail;
		size_t n;

		if (s == NULL)
			return (-1);
		avail = s->size - (kva - s->kva);
		n = avail < len ? (size_t)avail : len;
		if (kvmsim_image_pread(img, cp, n, s->file_off +
		    (kva - s->kva)) != (ssize_t)n)
			return (-1);
		cp += n;
		kva += n;
		len -= n;
	}
	return (0);
}
