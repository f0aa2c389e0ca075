/*
 * outfile.c: see outfile.h.
 */
#define _GNU_SOURCE /* O_TMPFILE, mkostemp */
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "num.h"

#define OUTFILE_MAX_LINKS 40     /* symbolic links followed, as the kernel's MAXSYMLINKS */
#define OUTFILE_SHOWN_BYTES 160  /* of a path in a message */
#define OUTFILE_TMP_NAME ".nicsim-XXXXXX"

enum outfile_kind { OUTFILE_STDOUT, OUTFILE_IN_PLACE, OUTFILE_REPLACE };

struct outfile {
  char *path;   /* as given */
  char *target; /* symbolic links resolved */
  char *tmp;    /* the temporary (OUTFILE_REPLACE, or staged) */
  enum outfile_kind kind;
  int staged;
  mode_t mode;
  FILE *f;
};

static void set_err(char *err, size_t errlen, const char *path, const char *why, int e) {
  char shown[OUTFILE_SHOWN_BYTES];
  num_elide(path, shown, sizeof shown);
  snprintf(err, errlen, "%s: %s%s%s", shown, why, e ? ": " : "", e ? strerror(e) : "");
}

/* Every component at most NAME_MAX bytes, the whole below PATH_MAX. */
static int check_length(const char *path, char *err, size_t errlen) {
  if (!*path) {
    snprintf(err, errlen, "an output file name is empty");
    return -1;
  }
  if (strlen(path) >= PATH_MAX) {
    set_err(err, errlen, path, "cannot write: the path is longer than PATH_MAX (4095 bytes)", 0);
    return -1;
  }
  for (const char *p = path; *p;) {
    const char *s = strchr(p, '/');
    size_t n = s ? (size_t)(s - p) : strlen(p);
    if (n > NAME_MAX) {
      set_err(err, errlen, path, "cannot write: a file name in it is longer than NAME_MAX (255 bytes)", 0);
      return -1;
    }
    p += n;
    while (*p == '/')
      p++;
  }
  return 0;
}

static char *dir_of(const char *path) {
  const char *s = strrchr(path, '/');
  if (!s)
    return strdup(".");
  if (s == path)
    return strdup("/");
  size_t n = (size_t)(s - path);
  char *d = malloc(n + 1);
  if (d) {
    memcpy(d, path, n);
    d[n] = '\0';
  }
  return d;
}

/* Would Linux follow the symbolic link cur (lstat'ed as *link_st) with
 * fs.protected_symlinks set? Not in a sticky world-writable folder (/tmp)
 * when neither the follower nor the folder's owner owns the link: there,
 * another user may have planted it to point a root's write at a file of
 * root's (fs/namei.c, may_follow_link()). The rule holds here whatever the
 * setting, as this program follows links itself. */
static int link_protected(const char *cur, const struct stat *link_st) {
  if (link_st->st_uid == geteuid())
    return 0;
  char *d = dir_of(cur);
  struct stat dst;
  int sticky_ww = d && stat(d, &dst) == 0 && (dst.st_mode & (S_ISVTX | S_IWOTH)) == (S_ISVTX | S_IWOTH);
  free(d);
  return sticky_ww && dst.st_uid != link_st->st_uid;
}

/* Follow symbolic links (dangling ones too: the target is then created).
 * malloc'ed; NULL with errno set (EACCES: a protected link). */
static char *resolve(const char *path) {
  char *cur = strdup(path);
  for (int hops = 0; cur && hops <= OUTFILE_MAX_LINKS; hops++) {
    struct stat st;
    if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode))
      return cur;
    if (link_protected(cur, &st)) {
      free(cur);
      errno = EACCES;
      return NULL;
    }
    char *link = malloc(PATH_MAX);
    ssize_t n = link ? readlink(cur, link, PATH_MAX - 1) : -1;
    if (n < 0) {
      free(link);
      free(cur);
      return NULL;
    }
    link[n] = '\0';
    char *next;
    if (link[0] == '/') {
      next = link;
    } else {
      char *d = dir_of(cur);
      size_t len = (d ? strlen(d) : 0) + (size_t)n + 2;
      next = d ? malloc(len) : NULL;
      if (next)
        snprintf(next, len, "%s/%s", d, link);
      free(d);
      free(link);
    }
    free(cur);
    cur = next;
    if (cur && strlen(cur) >= PATH_MAX) {
      free(cur);
      errno = ENAMETOOLONG;
      return NULL;
    }
  }
  if (cur) {
    free(cur);
    errno = ELOOP;
  }
  return NULL;
}

/* What writing path means: 0 with *kind and *target (malloc'ed) set, or -1
 * with err filled. */
static int classify(const char *path, enum outfile_kind *kind, char **target, mode_t *mode, char *err,
                    size_t errlen) {
  *target = NULL;
  if (strcmp(path, "-") == 0) {
    *kind = OUTFILE_STDOUT;
    return 0;
  }
  if (check_length(path, err, errlen))
    return -1;
  char *t = resolve(path);
  if (!t) {
    if (errno == EACCES)
      set_err(err, errlen, path,
              "cannot write: a symbolic link on the way is another user's, in a sticky world-writable "
              "folder (Linux's fs.protected_symlinks does not follow it)", 0);
    else
      set_err(err, errlen, path, "cannot write", errno);
    return -1;
  }
  struct stat st;
  if (stat(t, &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      set_err(err, errlen, path, "cannot write: it is a folder", 0);
      free(t);
      return -1;
    }
    if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) {
      *kind = OUTFILE_IN_PLACE;
      *target = t;
      return 0;
    }
    if (!S_ISREG(st.st_mode)) {
      set_err(err, errlen, path, "cannot write: not a regular file, character device or FIFO", 0);
      free(t);
      return -1;
    }
    *mode = st.st_mode & 07777;
  } else if (errno != ENOENT) {
    set_err(err, errlen, path, "cannot write", errno);
    free(t);
    return -1;
  }
  if (check_length(t, err, errlen)) {
    free(t);
    return -1;
  }
  char *d = dir_of(t);
  if (!d) {
    set_err(err, errlen, path, "cannot write", ENOMEM);
    free(t);
    return -1;
  }
  if (stat(d, &st) != 0 || !S_ISDIR(st.st_mode) || access(d, W_OK | X_OK) != 0) {
    int e = errno;
    if (stat(d, &st) == 0 && !S_ISDIR(st.st_mode))
      set_err(err, errlen, path, "cannot write: its folder is not a folder", 0);
    else
      set_err(err, errlen, path, "cannot write in its folder", e ? e : EACCES);
    free(d);
    free(t);
    return -1;
  }
  free(d);
  *kind = OUTFILE_REPLACE;
  *target = t;
  return 0;
}

int outfile_check(const char *path, char *err, size_t errlen) {
  enum outfile_kind kind;
  char *target;
  mode_t mode = 0;
  if (classify(path, &kind, &target, &mode, err, errlen))
    return -1;
  free(target);
  return 0;
}

/* ---- one command's inputs and outputs ---- */

struct outfile_known {
  int exists;   /* a regular file now: dev and ino name it */
  dev_t dev;
  ino_t ino;
  char *canon;  /* its folder's real path and its name ("-": standard output) */
  char *path;   /* as given */
  char *what;   /* "the trace", "--json" */
};

static struct outfile_registry {
  struct outfile_known *inputs, *outputs;
  size_t ninputs, noutputs;
} known;

/* What file path is: 1 with k filled, 0 for a path that is no regular
 * file (a device, a FIFO, a folder: written in place or refused
 * elsewhere), -1 when it cannot be told (out of memory, no folder). */
static int known_of(const char *path, struct outfile_known *k) {
  memset(k, 0, sizeof *k);
  if (strcmp(path, "-") == 0) {
    k->canon = strdup("-");
    return k->canon ? 1 : -1;
  }
  char *t = resolve(path);
  if (!t)
    return -1;
  struct stat st;
  if (stat(t, &st) == 0) {
    if (!S_ISREG(st.st_mode)) {
      free(t);
      return 0;
    }
    k->exists = 1;
    k->dev = st.st_dev;
    k->ino = st.st_ino;
  }
  char *d = dir_of(t);
  char *real = d ? realpath(d, NULL) : NULL;
  const char *slash = strrchr(t, '/'), *base = slash ? slash + 1 : t;
  size_t n = (real ? strlen(real) : 0) + strlen(base) + 2;
  k->canon = real ? malloc(n) : NULL;
  if (k->canon)
    snprintf(k->canon, n, "%s/%s", real, base);
  free(real);
  free(d);
  free(t);
  return k->canon ? 1 : -1;
}

static int known_same(const struct outfile_known *a, const struct outfile_known *b) {
  if (a->exists && b->exists)
    return a->dev == b->dev && a->ino == b->ino;
  return strcmp(a->canon, b->canon) == 0;
}

static void known_free(struct outfile_known *k) {
  free(k->canon);
  free(k->path);
  free(k->what);
}

static int known_add(struct outfile_known **list, size_t *n, struct outfile_known *k, const char *path,
                     const char *what) {
  struct outfile_known *l = realloc(*list, (*n + 1) * sizeof *l);
  if (l)
    *list = l;
  k->path = strdup(path);
  k->what = strdup(what ? what : "an input");
  if (!l || !k->path || !k->what) {
    known_free(k);
    return -1;
  }
  l[(*n)++] = *k;
  return 0;
}

/* The noted input that k is, or NULL. */
static const struct outfile_known *known_input(const struct outfile_known *k) {
  for (size_t i = 0; i < known.ninputs; i++)
    if (known_same(&known.inputs[i], k))
      return &known.inputs[i];
  return NULL;
}

static void input_err(char *err, size_t errlen, const char *path, const struct outfile_known *in) {
  char why[OUTFILE_SHOWN_BYTES + 96], shown[OUTFILE_SHOWN_BYTES];
  snprintf(why, sizeof why, "cannot write: it is %s %s, an input of this run", in->what,
           num_elide(in->path, shown, sizeof shown));
  set_err(err, errlen, path, why, 0);
}

int outfile_note_input(const char *path, const char *what) {
  struct outfile_known k;
  int rc = path ? known_of(path, &k) : 0;
  if (rc <= 0 || !k.exists || strcmp(path, "-") == 0) {
    if (rc > 0)
      known_free(&k);
    return 0; /* not a regular file: nothing an output could replace */
  }
  return known_add(&known.inputs, &known.ninputs, &k, path, what);
}

int outfile_claim(const char *path, const char *what, char *err, size_t errlen) {
  if (outfile_check(path, err, errlen))
    return -1;
  struct outfile_known k;
  int rc = known_of(path, &k);
  if (rc < 0) {
    set_err(err, errlen, path, "cannot write", errno ? errno : ENOMEM);
    return -1;
  }
  if (rc == 0)
    return 0;
  const struct outfile_known *in = known_input(&k);
  if (in) {
    input_err(err, errlen, path, in);
    known_free(&k);
    return -1;
  }
  for (size_t i = 0; i < known.noutputs; i++) {
    if (known_same(&known.outputs[i], &k)) {
      char why[OUTFILE_SHOWN_BYTES + 96], shown[OUTFILE_SHOWN_BYTES];
      if (strcmp(k.canon, "-") == 0)
        snprintf(why, sizeof why, "cannot write: %s writes standard output too", known.outputs[i].what);
      else
        snprintf(why, sizeof why, "cannot write: %s %s writes the same file", known.outputs[i].what,
                 num_elide(known.outputs[i].path, shown, sizeof shown));
      set_err(err, errlen, path, why, 0);
      known_free(&k);
      return -1;
    }
  }
  if (known_add(&known.outputs, &known.noutputs, &k, path, what)) {
    set_err(err, errlen, path, "cannot write", ENOMEM);
    return -1;
  }
  return 0;
}

void outfile_forget(void) {
  for (size_t i = 0; i < known.ninputs; i++)
    known_free(&known.inputs[i]);
  for (size_t i = 0; i < known.noutputs; i++)
    known_free(&known.outputs[i]);
  free(known.inputs);
  free(known.outputs);
  memset(&known, 0, sizeof known);
}

/* A temporary file in folder dir (or $TMPDIR) ending in suffix. */
static int make_tmp(struct outfile *o, const char *dir, const char *suffix) {
  size_t sl = suffix ? strlen(suffix) : 0;
  size_t n = strlen(dir) + sizeof OUTFILE_TMP_NAME + sl + 2;
  o->tmp = malloc(n);
  if (!o->tmp)
    return -1;
  snprintf(o->tmp, n, "%s/%s%s", dir, OUTFILE_TMP_NAME, suffix ? suffix : "");
  int fd = mkstemps(o->tmp, (int)sl);
  if (fd < 0) {
    free(o->tmp);
    o->tmp = NULL;
    return -1;
  }
  mode_t mask = umask(0);
  umask(mask);
  if (fchmod(fd, o->mode & ~mask) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

static struct outfile *open_any(const char *path, mode_t mode, const char *staged_suffix, char *err, size_t errlen) {
  struct outfile *o = calloc(1, sizeof *o);
  if (!o || !(o->path = strdup(path))) {
    free(o);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  o->mode = mode;
  o->staged = staged_suffix != NULL;
  if (classify(path, &o->kind, &o->target, &o->mode, err, errlen)) {
    free(o->path);
    free(o);
    return NULL;
  }
  if (o->kind == OUTFILE_REPLACE && known.ninputs) {
    struct outfile_known k;
    const struct outfile_known *in = NULL;
    if (known_of(path, &k) > 0) {
      in = known_input(&k);
      known_free(&k);
    }
    if (in) {
      input_err(err, errlen, path, in);
      outfile_abort(o);
      return NULL;
    }
  }
  int fd = -1;
  if (o->kind == OUTFILE_STDOUT && !o->staged) {
    o->f = stdout;
    return o;
  }
  if (o->kind == OUTFILE_IN_PLACE && !o->staged) {
    /* A device or FIFO: written as it is (a FIFO blocks until a reader
     * comes; a signal interrupts the wait). */
    fd = open(o->target, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
      set_err(err, errlen, path, "cannot write", errno);
      outfile_abort(o);
      return NULL;
    }
  } else {
    char *d = NULL;
    if (o->kind == OUTFILE_REPLACE) {
      d = dir_of(o->target);
    } else {
      /* Staged for a device, FIFO or standard output: the copy waits in the
       * temporary folder. */
      const char *t = getenv("TMPDIR");
      d = strdup(t && *t ? t : "/tmp");
    }
    fd = d ? make_tmp(o, d, staged_suffix) : -1;
    int e = errno;
    free(d);
    if (fd < 0) {
      set_err(err, errlen, path, "cannot write a temporary file beside it", e);
      outfile_abort(o);
      return NULL;
    }
    if (o->staged) {
      close(fd);
      return o;
    }
  }
  o->f = fdopen(fd, "w");
  if (!o->f) {
    set_err(err, errlen, path, "cannot write", errno);
    close(fd);
    outfile_abort(o);
    return NULL;
  }
  return o;
}

struct outfile *outfile_open(const char *path, mode_t mode, char *err, size_t errlen) {
  return open_any(path, mode, NULL, err, errlen);
}

struct outfile *outfile_open_staged(const char *path, const char *suffix, char *err, size_t errlen) {
  return open_any(path, 0666, suffix ? suffix : "", err, errlen);
}

const char *outfile_staged_path(const struct outfile *o) { return o->tmp; }

FILE *outfile_stream(struct outfile *o) { return o->f; }

const char *outfile_path(const struct outfile *o) { return o->path; }

static void release(struct outfile *o) {
  free(o->tmp);
  free(o->target);
  free(o->path);
  free(o);
}

void outfile_abort(struct outfile *o) {
  if (!o)
    return;
  if (o->f && o->f != stdout)
    fclose(o->f);
  if (o->tmp)
    unlink(o->tmp);
  release(o);
}

/* Copy the staged file into the device, FIFO or standard output. */
static int copy_out(struct outfile *o, char *err, size_t errlen) {
  int in = open(o->tmp, O_RDONLY | O_CLOEXEC);
  int out = o->kind == OUTFILE_STDOUT ? STDOUT_FILENO : open(o->target, O_WRONLY | O_NOCTTY | O_CLOEXEC);
  int rc = 0;
  if (in < 0 || out < 0) {
    set_err(err, errlen, o->path, "cannot write", errno);
    rc = -1;
  }
  char buf[65536];
  while (!rc) {
    ssize_t n = read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      if (n < 0) {
        set_err(err, errlen, o->path, "cannot write", errno);
        rc = -1;
      }
      break;
    }
    for (ssize_t off = 0; off < n && !rc;) {
      ssize_t w = write(out, buf + off, (size_t)(n - off));
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0) {
        set_err(err, errlen, o->path, "cannot write", w < 0 ? errno : EIO);
        rc = -1;
      } else {
        off += w;
      }
    }
  }
  if (in >= 0)
    close(in);
  if (out >= 0 && out != STDOUT_FILENO && close(out) != 0 && !rc) {
    set_err(err, errlen, o->path, "cannot write", errno);
    rc = -1;
  }
  return rc;
}

/* A staged file's writer (SystemC) does not report write errors: a file
 * that stopped at the file size limit, or on a file system with no block
 * left, is taken as torn. */
static int staged_whole(struct outfile *o, char *err, size_t errlen) {
  struct stat st;
  struct rlimit rl;
  struct statvfs vfs;
  if (stat(o->tmp, &st) != 0) {
    set_err(err, errlen, o->path, "cannot write", errno);
    return -1;
  }
  if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (rlim_t)st.st_size >= rl.rlim_cur) {
    set_err(err, errlen, o->path, "cannot write", EFBIG);
    return -1;
  }
  if (statvfs(o->tmp, &vfs) == 0 && vfs.f_bfree == 0 && vfs.f_blocks > 0) {
    set_err(err, errlen, o->path, "cannot write", ENOSPC);
    return -1;
  }
  return 0;
}

int outfile_commit(struct outfile *o, char *err, size_t errlen) {
  int rc = 0;
  if (o->staged) {
    rc = staged_whole(o, err, errlen);
    if (!rc && o->kind == OUTFILE_REPLACE) {
      if (rename(o->tmp, o->target) != 0) {
        set_err(err, errlen, o->path, "cannot write", errno);
        rc = -1;
      }
    } else if (!rc) {
      if (o->kind == OUTFILE_STDOUT)
        fflush(stdout);
      rc = copy_out(o, err, errlen);
    }
    if (rc || o->kind != OUTFILE_REPLACE)
      unlink(o->tmp);
    release(o);
    return rc;
  }
  if (o->kind == OUTFILE_STDOUT) {
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
      snprintf(err, errlen, "standard output: cannot write%s%s", errno ? ": " : "", errno ? strerror(errno) : "");
      rc = -1;
    }
    release(o);
    return rc;
  }
  errno = 0;
  int bad = fflush(o->f) != 0 || ferror(o->f);
  int e = errno;
  if (fclose(o->f) != 0 && !bad) {
    bad = 1;
    e = errno;
  }
  o->f = NULL;
  if (bad) {
    set_err(err, errlen, o->path, "cannot write", e ? e : EIO);
    rc = -1;
  } else if (o->kind == OUTFILE_REPLACE && rename(o->tmp, o->target) != 0) {
    set_err(err, errlen, o->path, "cannot write", errno);
    rc = -1;
  }
  if (rc && o->tmp)
    unlink(o->tmp);
  release(o);
  return rc;
}

int outfile_write_text(const char *path, const char *text, mode_t mode, char *err, size_t errlen) {
  struct outfile *o = outfile_open(path, mode, err, errlen);
  if (!o)
    return -1;
  fputs(text, outfile_stream(o));
  return outfile_commit(o, err, errlen);
}

int outfile_mkdtemp(const char *prefix, char *buf, size_t n) {
  const char *base = getenv("TMPDIR");
  if (!base || !*base)
    base = "/tmp";
  if ((size_t)snprintf(buf, n, "%s/%s-XXXXXX", base, prefix) >= n) {
    errno = ENAMETOOLONG;
    return -1;
  }
  return mkdtemp(buf) ? 0 : -1;
}

int outfile_anon_tmp(void) {
  const char *dir = getenv("TMPDIR");
  if (!dir || !*dir)
    dir = "/tmp";
  int fd;
#ifdef O_TMPFILE
  fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0)
    return fd;
#endif
  char path[PATH_MAX];
  if ((size_t)snprintf(path, sizeof path, "%s/nicsim-tmp-XXXXXX", dir) >= sizeof path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  fd = mkostemp(path, O_CLOEXEC);
  if (fd >= 0)
    unlink(path);
  return fd;
}
