/*
 * xdp: the configurable XDP program of scenario key `xdp.rules`.
 *
 * The program is an ordered list of rules. The first rule whose match fits a
 * frame decides its verdict; a frame no rule matches is passed (XDP_PASS).
 * One rule is one line of text:
 *
 *   ACTION [PRINCIPAL] [MATCH]
 *
 *   ACTION     pass      XDP_PASS: up the stack (on an AF_XDP zero-copy queue
 *                        the frame is first copied into a kernel page)
 *              drop      XDP_DROP: the buffer is recycled at once
 *              redirect  XDP_REDIRECT to PRINCIPAL's socket
 *   PRINCIPAL  redirect only, and required: a principal's name (app, other,
 *              or a name the scenario's `principals:` lists)
 *   MATCH      empty: every frame;
 *              `tuple FIELD=VALUE[,FIELD=VALUE...]`: fields of the frame's
 *              parsed (outer) tuple, every one given must fit: proto (tcp,
 *              udp, icmp, icmp6, sctp, gre or a number 0..255), src, dst,
 *              host (either end) as an IPv4 or IPv6 address with an optional
 *              /PREFIX, sport, dport, port (either end) 0..65535, owner (the
 *              principal that owns the frame's flow: app.owns, the
 *              principals' owns);
 *              anything else: a BPF filter expression as tcpdump takes it,
 *              compiled by libpcap for the frames' link type and run
 *              (pcap_offline_filter) on the bytes the XDP program sees.
 *
 * Examples: "drop udp port 53", "redirect app tcp port 5001",
 * "redirect other tuple proto=udp,dport=4000", "redirect blue udp", "pass".
 *
 * A list of rules as one text (--set xdp.rules=..., the report's source):
 * rules separated by ';' (which no BPF expression uses), optionally within
 * '[' and ']' ("[drop udp port 53; pass]"); "[]" or "" is no rule at all.
 *
 * Errors are one line naming the rule and the problem; the caller prefixes
 * the key (and the file position). No I/O; nothing here exits.
 */
#ifndef NICSIM_XDP_H
#define NICSIM_XDP_H

#include <stddef.h>
#include <stdint.h>

#include "flow.h"

#define XDP_MAX_RULES 32
#define XDP_RULE_MAX 512 /* bytes of one rule's text, with its NUL */

enum xdp_action { XDP_ACTION_PASS = 0, XDP_ACTION_DROP, XDP_ACTION_REDIRECT };

/* "pass", "drop", "redirect". */
const char *xdp_action_name(enum xdp_action a);

/* Split a list of rules (see above) into rules[0..*n), each trimmed. 0, or
 * -1 with err filled (an empty rule, too many rules, a rule too long). */
int xdp_rules_split(const char *text, char rules[][XDP_RULE_MAX], size_t max, size_t *n, char *err,
                    size_t errlen);

/* Check one rule: its action, its principal (one of the NULL-terminated
 * principals; principals NULL: any name a principal may have, for a
 * scenario whose principals are not all known yet), its tuple fields, or
 * that its BPF filter compiles for linktype. 0, or -1 with err filled
 * ("unknown action 'x' (...)"). */
int xdp_rule_check(const char *rule, const char *const *principals, int linktype, char *err,
                   size_t errlen);

/* What a rule is matched against. */
struct xdp_frame {
  const uint8_t *data;        /* the bytes the XDP program sees */
  uint32_t caplen;            /* of them */
  uint32_t wire_len;          /* bytes of the whole frame */
  const struct flow_key *key; /* the parsed outer tuple, or NULL when not even Ethernet */
  int owner;                  /* principal owning the frame's flow, or -1 (the kernel's) */
};

struct xdp_prog;

/* The program of a list of rules (xdp_rules_split's syntax); principal
 * indices are positions in principals. NULL with err filled. */
struct xdp_prog *xdp_prog_new(const char *text, const char *const *principals, int linktype, char *err,
                              size_t errlen);
void xdp_prog_free(struct xdp_prog *p);

/* Run the program on one frame: the verdict; *target is the principal of a
 * redirect; *evaluated the rules tried (matched or not). Counts the hit. */
enum xdp_action xdp_prog_run(struct xdp_prog *p, const struct xdp_frame *f, unsigned *target,
                             uint32_t *evaluated);

size_t xdp_prog_rule_count(const struct xdp_prog *p);
const char *xdp_prog_rule_text(const struct xdp_prog *p, size_t i);
/* Frames rule i decided. */
uint64_t xdp_prog_hits(const struct xdp_prog *p, size_t i);
/* Frames no rule matched (passed). */
uint64_t xdp_prog_no_match(const struct xdp_prog *p);

#endif
