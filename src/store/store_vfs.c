/* store_vfs.c - a thin SQLite VFS over the default one that writes each
 * commit's WAL frames to the kernel in one call.
 *
 * SQLite appends a commit to the WAL as two writes per page (a 24-byte frame
 * header, then the page), each its own pwrite(2). A single-event commit
 * touches 10-30 pages, and on our 2-core machines those 20-60 system calls -
 * each taking the inode lock, straddling two page-cache pages, updating the
 * file's mtime - were half of the writer thread's time (bench/ingest.sh,
 * docs/benchmarks.md).
 *
 * Here writes to a WAL file gather in a buffer while they are contiguous and
 * go to the kernel as one pwrite when the frame that commits the transaction
 * has been written (its header carries the database size, non-zero only on a
 * commit frame), and before anything else touches the file: a read, a sync,
 * a size query, a truncate, a close or a write elsewhere. SQLite publishes a
 * commit to readers (the wal-index header) only after its last frame write
 * returns, so by then every byte is in the kernel: what readers see, what a
 * crash leaves and what a checkpoint copies are the same as without the
 * buffer. Other files pass straight through. */
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

#define WAL_FRAME_HDR 24
#define BUF_MAX       (4 << 20) /* a larger commit goes out in 4 MiB pieces */
#define WRITE_MAX     (64 << 10)

typedef struct wal_file {
    sqlite3_file base;
    sqlite3_file *real; /* the default VFS's file, right after this struct */
    unsigned char *buf;
    size_t len, cap;
    sqlite3_int64 off;   /* file offset of buf[0] */
    bool commit_pending; /* a commit frame's header went in; its page is next */
} wal_file;

static sqlite3_vfs *real_vfs;

/* The unix VFS writes at most 128 KiB - 1 bytes a call (it masks the length
 * to 17 bits, so a longer write would come back short): 64 KiB pieces. */
static int wal_flush(wal_file *f) {
    int rc = SQLITE_OK;
    for (size_t at = 0; at < f->len && rc == SQLITE_OK; at += WRITE_MAX) {
        size_t n = f->len - at < WRITE_MAX ? f->len - at : WRITE_MAX;
        rc = f->real->pMethods->xWrite(f->real, f->buf + at, (int)n, f->off + (sqlite3_int64)at);
    }
    f->len = 0;
    return rc;
}

static int wal_close(sqlite3_file *p) {
    wal_file *f = (wal_file *)p;
    int rc = wal_flush(f);
    int rc2 = f->real->pMethods->xClose(f->real);
    free(f->buf);
    f->buf = NULL;
    return rc != SQLITE_OK ? rc : rc2;
}

static int wal_read(sqlite3_file *p, void *out, int amt, sqlite3_int64 off) {
    wal_file *f = (wal_file *)p;
    int rc = wal_flush(f);
    return rc ? rc : f->real->pMethods->xRead(f->real, out, amt, off);
}

static int wal_write(sqlite3_file *p, const void *data, int amt, sqlite3_int64 off) {
    wal_file *f = (wal_file *)p;
    int rc;
    if (f->len && off != f->off + (sqlite3_int64)f->len && (rc = wal_flush(f))) return rc;
    if (f->len + (size_t)amt > BUF_MAX && (rc = wal_flush(f))) return rc;
    if ((size_t)amt > WRITE_MAX) { /* larger than any page: in order, straight through */
        if ((rc = wal_flush(f))) return rc;
        f->commit_pending = false;
        return f->real->pMethods->xWrite(f->real, data, amt, off);
    }
    if (f->len + (size_t)amt > f->cap) {
        size_t cap = f->cap ? f->cap : 64 * 1024;
        while (cap < f->len + (size_t)amt) cap *= 2;
        unsigned char *b = realloc(f->buf, cap);
        if (!b) { /* no memory for the buffer: write through */
            if ((rc = wal_flush(f))) return rc;
            f->commit_pending = false;
            return f->real->pMethods->xWrite(f->real, data, amt, off);
        }
        f->buf = b;
        f->cap = cap;
    }
    if (!f->len) f->off = off;
    memcpy(f->buf + f->len, data, (size_t)amt);
    f->len += (size_t)amt;
    if (f->commit_pending) { /* the commit frame's page: the transaction is all here */
        f->commit_pending = false;
        return wal_flush(f);
    }
    if (amt == WAL_FRAME_HDR) {
        const unsigned char *h = data; /* bytes 4-7: database size after a commit, else 0 */
        f->commit_pending = (h[4] | h[5] | h[6] | h[7]) != 0;
    }
    return SQLITE_OK;
}

static int wal_truncate(sqlite3_file *p, sqlite3_int64 size) {
    wal_file *f = (wal_file *)p;
    int rc = wal_flush(f);
    return rc ? rc : f->real->pMethods->xTruncate(f->real, size);
}

static int wal_sync(sqlite3_file *p, int flags) {
    wal_file *f = (wal_file *)p;
    int rc = wal_flush(f);
    return rc ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int wal_size(sqlite3_file *p, sqlite3_int64 *size) {
    wal_file *f = (wal_file *)p;
    int rc = wal_flush(f);
    return rc ? rc : f->real->pMethods->xFileSize(f->real, size);
}

static int wal_lock(sqlite3_file *p, int level) {
    wal_file *f = (wal_file *)p;
    return f->real->pMethods->xLock(f->real, level);
}

static int wal_unlock(sqlite3_file *p, int level) {
    wal_file *f = (wal_file *)p;
    return f->real->pMethods->xUnlock(f->real, level);
}

static int wal_check_lock(sqlite3_file *p, int *out) {
    wal_file *f = (wal_file *)p;
    return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int wal_fcntl(sqlite3_file *p, int op, void *arg) {
    wal_file *f = (wal_file *)p;
    int rc = wal_flush(f);
    return rc ? rc : f->real->pMethods->xFileControl(f->real, op, arg);
}

static int wal_sector(sqlite3_file *p) {
    wal_file *f = (wal_file *)p;
    return f->real->pMethods->xSectorSize(f->real);
}

static int wal_device(sqlite3_file *p) {
    wal_file *f = (wal_file *)p;
    return f->real->pMethods->xDeviceCharacteristics(f->real);
}

/* version 1: a WAL file has no shared memory and is never memory-mapped */
static const sqlite3_io_methods wal_methods = {
    .iVersion = 1,
    .xClose = wal_close,
    .xRead = wal_read,
    .xWrite = wal_write,
    .xTruncate = wal_truncate,
    .xSync = wal_sync,
    .xFileSize = wal_size,
    .xLock = wal_lock,
    .xUnlock = wal_unlock,
    .xCheckReservedLock = wal_check_lock,
    .xFileControl = wal_fcntl,
    .xSectorSize = wal_sector,
    .xDeviceCharacteristics = wal_device,
};

static int vfs_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *p, int flags,
                    int *out_flags) {
    (void)vfs;
    if (!(flags & SQLITE_OPEN_WAL)) /* everything else is the default VFS's own file */
        return real_vfs->xOpen(real_vfs, name, p, flags, out_flags);
    wal_file *f = (wal_file *)p;
    memset(f, 0, sizeof *f);
    f->real = (sqlite3_file *)(f + 1);
    int rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out_flags);
    if (rc == SQLITE_OK) f->base.pMethods = &wal_methods; /* else SQLite must not close it */
    return rc;
}

static int vfs_delete(sqlite3_vfs *v, const char *name, int sync) {
    (void)v;
    return real_vfs->xDelete(real_vfs, name, sync);
}

static int vfs_access(sqlite3_vfs *v, const char *name, int flags, int *out) {
    (void)v;
    return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int vfs_fullpath(sqlite3_vfs *v, const char *name, int n, char *out) {
    (void)v;
    return real_vfs->xFullPathname(real_vfs, name, n, out);
}

static void *vfs_dlopen(sqlite3_vfs *v, const char *name) {
    (void)v;
    return real_vfs->xDlOpen(real_vfs, name);
}

static void vfs_dlerror(sqlite3_vfs *v, int n, char *out) {
    (void)v;
    real_vfs->xDlError(real_vfs, n, out);
}

static void (*vfs_dlsym(sqlite3_vfs *v, void *h, const char *sym))(void) {
    (void)v;
    return real_vfs->xDlSym(real_vfs, h, sym);
}

static void vfs_dlclose(sqlite3_vfs *v, void *h) {
    (void)v;
    real_vfs->xDlClose(real_vfs, h);
}

static int vfs_random(sqlite3_vfs *v, int n, char *out) {
    (void)v;
    return real_vfs->xRandomness(real_vfs, n, out);
}

static int vfs_sleep(sqlite3_vfs *v, int us) {
    (void)v;
    return real_vfs->xSleep(real_vfs, us);
}

static int vfs_time(sqlite3_vfs *v, double *out) {
    (void)v;
    return real_vfs->xCurrentTime(real_vfs, out);
}

static int vfs_last_error(sqlite3_vfs *v, int n, char *out) {
    (void)v;
    return real_vfs->xGetLastError ? real_vfs->xGetLastError(real_vfs, n, out) : 0;
}

static int vfs_time64(sqlite3_vfs *v, sqlite3_int64 *out) {
    (void)v;
    return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

static sqlite3_vfs hd_vfs = {
    .iVersion = 2,
    .zName = HD_SQLITE_VFS,
    .xOpen = vfs_open,
    .xDelete = vfs_delete,
    .xAccess = vfs_access,
    .xFullPathname = vfs_fullpath,
    .xDlOpen = vfs_dlopen,
    .xDlError = vfs_dlerror,
    .xDlSym = vfs_dlsym,
    .xDlClose = vfs_dlclose,
    .xRandomness = vfs_random,
    .xSleep = vfs_sleep,
    .xCurrentTime = vfs_time,
    .xGetLastError = vfs_last_error,
    .xCurrentTimeInt64 = vfs_time64,
};

int hd__vfs_register(void) {
    real_vfs = sqlite3_vfs_find(NULL);
    if (!real_vfs || real_vfs->iVersion < 2) return SQLITE_ERROR;
    int sz = (int)sizeof(wal_file) + real_vfs->szOsFile;
    hd_vfs.szOsFile = sz > real_vfs->szOsFile ? sz : real_vfs->szOsFile;
    hd_vfs.mxPathname = real_vfs->mxPathname;
    return sqlite3_vfs_register(&hd_vfs, 0);
}
