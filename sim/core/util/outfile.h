/*
 * outfile: the one writer of output files (reports, tables, pages, the
 * waveform, captures, job lists, scripts).
 *
 * "-" is standard output. A path that names a character device or a FIFO
 * (directly or through symbolic links) is written in place: /dev/null stays
 * /dev/null. A regular file, or a name that does not exist yet, is written
 * to a temporary file in the target's folder (symbolic links followed, so
 * the link stays a link; not one Linux's fs.protected_symlinks would refuse
 * to follow: another user's, in a sticky world-writable folder) and renamed over the target only when every byte
 * was written: a full disk, a file size limit or a stopped run leave the
 * old file and no temporary. Block devices, folders and sockets are
 * refused. Every write is checked, standard output included.
 *
 * Paths are never cut: one longer than PATH_MAX, or with a component longer
 * than NAME_MAX, is refused with a message; temporary names are short
 * (".nicsim-XXXXXX" in the target's folder), so they fit whenever the final
 * name does.
 */
#ifndef NICSIM_OUTFILE_H
#define NICSIM_OUTFILE_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

struct outfile;

/* One command's files. An output must be neither an input of the same
 * command (its trace, scenario, spec) nor another of its outputs: writing
 * it would destroy the input, or one output would silently replace the
 * other. A command notes each input, then claims each output path instead
 * of only checking it; outfile_open refuses to replace a noted input (so
 * outputs named during the run, --observed's files, are covered too).
 * Files are the same when they are one inode, or, not existing yet, one
 * name in one folder (links resolved); "-" (standard output) is one file;
 * devices and FIFOs are written in place and may be named twice. */

/* Note path (as given to the command; what names it in messages, e.g.
 * "the trace") as an input. Paths that are not regular files are
 * ignored. 0, or -1 when out of memory. */
int outfile_note_input(const char *path, const char *what);

/* outfile_check, and refuse an input or a path already claimed. what names
 * the output in messages ("--json"). 0, or -1 with err filled ("PATH:
 * why"). */
int outfile_claim(const char *path, const char *what, char *err, size_t errlen);

/* Forget every input and claim (a command run again in one process). */
void outfile_forget(void);

/* Can path be written? Checks what outfile_open would, without creating
 * anything (so that a run finds a bad output before its first frame): the
 * length, the target's kind, its folder's existence and write access.
 * 0, or -1 with err filled ("PATH: why"). */
int outfile_check(const char *path, char *err, size_t errlen);

/* Open path for writing; mode is a new file's permissions (before the
 * umask; an existing file keeps its own). NULL with err filled. */
struct outfile *outfile_open(const char *path, mode_t mode, char *err, size_t errlen);

/* For writers that open files by name themselves (SystemC's waveform): a
 * file name ending in suffix to write instead of path; outfile_commit then
 * renames it over a regular target, or copies it into a device or FIFO.
 * The name is a temporary one until commit. NULL with err filled. */
struct outfile *outfile_open_staged(const char *path, const char *suffix, char *err, size_t errlen);
const char *outfile_staged_path(const struct outfile *o);

/* The stream to write to (not for staged outfiles). */
FILE *outfile_stream(struct outfile *o);

/* The path as the user gave it (for messages). */
const char *outfile_path(const struct outfile *o);

/* Finish: flush, check every write, rename into place. Releases o. 0, or
 * -1 with err filled (the target is then untouched, the temporary gone). */
int outfile_commit(struct outfile *o, char *err, size_t errlen);

/* Give up: remove the temporary. Releases o; NULL is fine. */
void outfile_abort(struct outfile *o);

/* The whole text to path (outfile_open, fputs, outfile_commit). */
int outfile_write_text(const char *path, const char *text, mode_t mode, char *err, size_t errlen);

/* Make a private folder $TMPDIR/PREFIX-XXXXXX (/tmp without TMPDIR) into
 * buf. 0, or -1 with errno set. */
int outfile_mkdtemp(const char *prefix, char *buf, size_t n);

/* An unnamed temporary file in $TMPDIR (/tmp without it), open for reading
 * and writing: O_TMPFILE, or a unique name unlinked at once where the
 * folder's filesystem has no O_TMPFILE, so that no name is ever left
 * behind, even when the process is killed. Its descriptor, or -1 with
 * errno set. */
int outfile_anon_tmp(void);

#endif
