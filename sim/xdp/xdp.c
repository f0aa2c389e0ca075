/*
 * xdp.c: the rules of xdp.rules, their parser and the program that runs
 * them (xdp.h).
 */
#include "xdp.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"
#include "num.h"

enum match_kind { MATCH_ALL = 0, MATCH_BPF, MATCH_TUPLE };

enum tuple_field { TF_PROTO = 0, TF_SRC, TF_DST, TF_HOST, TF_SPORT, TF_DPORT, TF_PORT, TF_OWNER, TF_COUNT };
static const char *const field_names[TF_COUNT] = {"proto", "src",  "dst",  "host",
                                                  "sport", "dport", "port", "owner"};
#define FIELD_LIST "proto, src, dst, host, sport, dport, port, owner"
#define XDP_PRINCIPAL_LIST_MAX 800 /* the principals' names joined by ", " (18 of up to 32 characters) */

struct addr {
  uint8_t af; /* FLOW_AF_INET or FLOW_AF_INET6 */
  uint8_t bytes[16];
  uint8_t prefix; /* bits that must match */
};

struct tuple {
  uint32_t have; /* bit per enum tuple_field */
  uint8_t proto;
  struct addr src, dst, host;
  uint16_t sport, dport, port;
  unsigned owner;
};

struct rule {
  char text[XDP_RULE_MAX];
  uint8_t action;  /* enum xdp_action */
  unsigned target; /* redirect: principal index */
  uint8_t match;   /* enum match_kind */
  struct trace_filter *flt;
  struct tuple t;
  uint64_t hits;
};

struct xdp_prog {
  struct rule r[XDP_MAX_RULES];
  size_t n;
  uint64_t no_match;
};

const char *xdp_action_name(enum xdp_action a) {
  switch (a) {
  case XDP_ACTION_DROP:
    return "drop";
  case XDP_ACTION_REDIRECT:
    return "redirect";
  default:
    return "pass";
  }
}

/* ---- text ---- */

static void trim(const char *s, size_t n, const char **b, const char **e) {
  const char *t = s + n;
  while (s < t && isspace((unsigned char)*s))
    s++;
  while (t > s && isspace((unsigned char)t[-1]))
    t--;
  *b = s;
  *e = t;
}

int xdp_rules_split(const char *text, char rules[][XDP_RULE_MAX], size_t max, size_t *n, char *err,
                    size_t errlen) {
  const char *b, *e;
  *n = 0;
  trim(text, strlen(text), &b, &e);
  /* A rule starts with its action, never with '[': a leading '[' opens the
   * list, and then it must end with ']'. */
  if (b < e && *b == '[') {
    if (e[-1] != ']') {
      snprintf(err, errlen, "the list opens with '[' but does not end with ']'");
      return -1;
    }
    b++;
    e--;
    const char *ib, *ie;
    trim(b, (size_t)(e - b), &ib, &ie);
    b = ib;
    e = ie;
  }
  if (b == e)
    return 0;
  for (const char *p = b;;) {
    const char *semi = memchr(p, ';', (size_t)(e - p));
    const char *end = semi ? semi : e;
    const char *rb, *re;
    trim(p, (size_t)(end - p), &rb, &re);
    if (rb == re) {
      snprintf(err, errlen, "rule %zu is empty (rules are separated by ';')", *n + 1);
      return -1;
    }
    if (*n == max) {
      snprintf(err, errlen, "more than %zu rules", max);
      return -1;
    }
    if ((size_t)(re - rb) >= XDP_RULE_MAX) {
      snprintf(err, errlen, "rule %zu is %zu bytes long; at most %d are allowed", *n + 1, (size_t)(re - rb),
               XDP_RULE_MAX - 1);
      return -1;
    }
    memcpy(rules[*n], rb, (size_t)(re - rb));
    rules[*n][re - rb] = '\0';
    (*n)++;
    if (!semi)
      break;
    p = semi + 1;
  }
  return 0;
}

/* The next whitespace-separated word of *s into w (at most wn-1 bytes); *s
 * moves past it and the blanks after it. 0 when there is none. */
static size_t next_word(const char **s, char *w, size_t wn) {
  const char *p = *s;
  while (*p && isspace((unsigned char)*p))
    p++;
  size_t k = 0;
  while (p[k] && !isspace((unsigned char)p[k]))
    k++;
  size_t c = k < wn - 1 ? k : wn - 1;
  memcpy(w, p, c);
  w[c] = '\0';
  p += k;
  while (*p && isspace((unsigned char)*p))
    p++;
  *s = p;
  return k;
}

/* principals NULL: the names are not known yet (a scenario still being
 * read); any name a principal may have is taken, as index 0. */
static void principal_list(const char *const *principals, char *buf, size_t n) {
  buf[0] = '\0';
  if (!principals) {
    snprintf(buf, n, "app, other or a name from principals:");
    return;
  }
  for (size_t i = 0; principals[i]; i++) {
    size_t l = strlen(buf);
    snprintf(buf + l, n - l, "%s%s", i ? ", " : "", principals[i]);
  }
}

static int find_principal(const char *const *principals, const char *name, unsigned *out) {
  if (!principals) {
    *out = 0;
    if (!name[0])
      return -1;
    for (const char *c = name; *c; c++)
      if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-')
        return -1;
    return 0;
  }
  for (unsigned i = 0; principals[i]; i++)
    if (strcmp(principals[i], name) == 0) {
      *out = i;
      return 0;
    }
  return -1;
}

/* ---- tuple fields ---- */

static int parse_u16(const char *v, uint16_t *out) {
  uint64_t x;
  if (num_u64(v, &x) || x > 65535)
    return -1;
  *out = (uint16_t)x;
  return 0;
}

static int parse_proto(const char *v, uint8_t *out) {
  static const struct {
    const char *name;
    uint8_t num;
  } names[] = {{"tcp", 6}, {"udp", 17}, {"icmp", 1}, {"icmp6", 58}, {"sctp", 132}, {"gre", 47}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(v, names[i].name) == 0) {
      *out = names[i].num;
      return 0;
    }
  uint16_t n;
  if (parse_u16(v, &n) || n > 255)
    return -1;
  *out = (uint8_t)n;
  return 0;
}

static int parse_addr(const char *v, struct addr *a) {
  char buf[64];
  const char *slash = strchr(v, '/');
  size_t alen = slash ? (size_t)(slash - v) : strlen(v);
  if (alen == 0 || alen >= sizeof buf)
    return -1;
  memcpy(buf, v, alen);
  buf[alen] = '\0';
  memset(a, 0, sizeof *a);
  unsigned maxbits;
  if (inet_pton(AF_INET, buf, a->bytes) == 1) {
    a->af = FLOW_AF_INET;
    maxbits = 32;
  } else if (inet_pton(AF_INET6, buf, a->bytes) == 1) {
    a->af = FLOW_AF_INET6;
    maxbits = 128;
  } else {
    return -1;
  }
  a->prefix = (uint8_t)maxbits;
  if (slash) {
    uint16_t bits;
    if (parse_u16(slash + 1, &bits) || bits > maxbits)
      return -1;
    a->prefix = (uint8_t)bits;
  }
  return 0;
}

static int parse_tuple(const char *s, const char *const *principals, struct tuple *t, char *err,
                       size_t errlen) {
  memset(t, 0, sizeof *t);
  const char *p = s;
  if (!*p) {
    snprintf(err, errlen, "tuple: no field given (write tuple FIELD=VALUE[,...]; fields: %s)", FIELD_LIST);
    return -1;
  }
  for (;;) {
    const char *comma = strchr(p, ',');
    const char *end = comma ? comma : p + strlen(p);
    const char *b, *e;
    trim(p, (size_t)(end - p), &b, &e);
    char item[XDP_RULE_MAX];
    memcpy(item, b, (size_t)(e - b));
    item[e - b] = '\0';
    char *eq = strchr(item, '=');
    if (!item[0] || !eq) {
      snprintf(err, errlen, "tuple: '%s' is not FIELD=VALUE (fields: %s)", item, FIELD_LIST);
      return -1;
    }
    *eq = '\0';
    const char *nb, *ne, *vb, *ve;
    trim(item, strlen(item), &nb, &ne);
    trim(eq + 1, strlen(eq + 1), &vb, &ve);
    char name[32], val[XDP_RULE_MAX];
    snprintf(name, sizeof name, "%.*s", (int)(ne - nb), nb);
    snprintf(val, sizeof val, "%.*s", (int)(ve - vb), vb);
    int f = -1;
    for (int i = 0; i < TF_COUNT; i++)
      if (strcmp(name, field_names[i]) == 0)
        f = i;
    if (f < 0) {
      snprintf(err, errlen, "tuple: unknown field '%s' (fields: %s)", name, FIELD_LIST);
      return -1;
    }
    if (t->have & (1u << f)) {
      snprintf(err, errlen, "tuple: field '%s' is given twice", name);
      return -1;
    }
    t->have |= 1u << f;
    int bad = 0;
    const char *allowed = "";
    switch (f) {
    case TF_PROTO:
      bad = parse_proto(val, &t->proto);
      allowed = "tcp, udp, icmp, icmp6, sctp, gre or a protocol number 0..255";
      break;
    case TF_SRC:
    case TF_DST:
    case TF_HOST:
      bad = parse_addr(val, f == TF_SRC ? &t->src : f == TF_DST ? &t->dst : &t->host);
      allowed = "an IPv4 or IPv6 address, with an optional /PREFIX";
      break;
    case TF_SPORT:
    case TF_DPORT:
    case TF_PORT:
      bad = parse_u16(val, f == TF_SPORT ? &t->sport : f == TF_DPORT ? &t->dport : &t->port);
      allowed = "a port number 0..65535";
      break;
    default: {
      char list[XDP_PRINCIPAL_LIST_MAX];
      principal_list(principals, list, sizeof list);
      bad = find_principal(principals, val, &t->owner);
      if (bad) {
        snprintf(err, errlen, "tuple: owner: unknown principal '%s' (principals: %s)", val, list);
        return -1;
      }
    }
    }
    if (bad) {
      snprintf(err, errlen, "tuple: %s '%s' is not allowed: %s", name, val, allowed);
      return -1;
    }
    if (!comma)
      return 0;
    p = comma + 1;
  }
}

/* ---- rules ---- */

static int parse_rule(const char *text, const char *const *principals, int linktype, struct rule *r,
                      char *err, size_t errlen) {
  memset(r, 0, sizeof *r);
  snprintf(r->text, sizeof r->text, "%s", text);
  const char *p = text;
  char word[64], list[XDP_PRINCIPAL_LIST_MAX];
  principal_list(principals, list, sizeof list);
  next_word(&p, word, sizeof word);
  if (strcmp(word, "pass") == 0) {
    r->action = XDP_ACTION_PASS;
  } else if (strcmp(word, "drop") == 0) {
    r->action = XDP_ACTION_DROP;
  } else if (strcmp(word, "redirect") == 0) {
    r->action = XDP_ACTION_REDIRECT;
    if (!next_word(&p, word, sizeof word)) {
      snprintf(err, errlen, "redirect needs a principal: redirect PRINCIPAL [MATCH] (principals: %s)", list);
      return -1;
    }
    if (find_principal(principals, word, &r->target)) {
      snprintf(err, errlen, "unknown principal '%s' (principals: %s)", word, list);
      return -1;
    }
  } else {
    snprintf(err, errlen, "unknown action '%s' (actions: pass, drop, redirect)", word);
    return -1;
  }
  if (!*p) {
    r->match = MATCH_ALL;
    return 0;
  }
  const char *q = p;
  if (next_word(&q, word, sizeof word) && strcmp(word, "tuple") == 0) {
    r->match = MATCH_TUPLE;
    return parse_tuple(q, principals, &r->t, err, errlen);
  }
  r->match = MATCH_BPF;
  char perr[400];
  r->flt = trace_filter_compile(linktype, p, perr, sizeof perr);
  if (!r->flt) {
    snprintf(err, errlen, "the BPF filter '%s' does not compile: %s", p, perr);
    return -1;
  }
  return 0;
}

int xdp_rule_check(const char *rule, const char *const *principals, int linktype, char *err,
                   size_t errlen) {
  struct rule *r = malloc(sizeof *r);
  if (!r) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  int rc = parse_rule(rule, principals, linktype, r, err, errlen);
  trace_filter_free(r->flt);
  free(r);
  return rc;
}

struct xdp_prog *xdp_prog_new(const char *text, const char *const *principals, int linktype, char *err,
                              size_t errlen) {
  struct xdp_prog *p = calloc(1, sizeof *p);
  char (*rules)[XDP_RULE_MAX] = calloc(XDP_MAX_RULES, XDP_RULE_MAX);
  size_t n = 0;
  if (!p || !rules) {
    snprintf(err, errlen, "out of memory");
    goto fail;
  }
  if (xdp_rules_split(text, rules, XDP_MAX_RULES, &n, err, errlen))
    goto fail;
  for (size_t i = 0; i < n; i++) {
    char e[1024];
    if (parse_rule(rules[i], principals, linktype, &p->r[i], e, sizeof e)) {
      trace_filter_free(p->r[i].flt);
      snprintf(err, errlen, "rule %zu '%s': %s", i + 1, rules[i], e);
      goto fail;
    }
    p->n = i + 1;
  }
  free(rules);
  return p;
fail:
  free(rules);
  xdp_prog_free(p);
  return NULL;
}

void xdp_prog_free(struct xdp_prog *p) {
  if (!p)
    return;
  for (size_t i = 0; i < p->n; i++)
    trace_filter_free(p->r[i].flt);
  free(p);
}

/* ---- matching ---- */

static int addr_match(const struct addr *a, uint8_t af, const uint8_t *bytes) {
  if (a->af != af)
    return 0;
  unsigned full = a->prefix / 8, rest = a->prefix % 8;
  if (memcmp(a->bytes, bytes, full) != 0)
    return 0;
  if (rest) {
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    if ((a->bytes[full] & mask) != (bytes[full] & mask))
      return 0;
  }
  return 1;
}

static int tuple_match(const struct tuple *t, const struct xdp_frame *f) {
  if ((t->have & (1u << TF_OWNER)) && (f->owner < 0 || (unsigned)f->owner != t->owner))
    return 0;
  if (!(t->have & ~(1u << TF_OWNER)))
    return 1;
  const struct flow_key *k = f->key;
  if (!k || k->af == FLOW_AF_NONE)
    return 0; /* every other field is an IP one */
  if ((t->have & (1u << TF_PROTO)) && k->proto != t->proto)
    return 0;
  if ((t->have & (1u << TF_SRC)) && !addr_match(&t->src, k->af, k->src))
    return 0;
  if ((t->have & (1u << TF_DST)) && !addr_match(&t->dst, k->af, k->dst))
    return 0;
  if ((t->have & (1u << TF_HOST)) && !addr_match(&t->host, k->af, k->src) &&
      !addr_match(&t->host, k->af, k->dst))
    return 0;
  if ((t->have & (1u << TF_SPORT)) && k->sport != t->sport)
    return 0;
  if ((t->have & (1u << TF_DPORT)) && k->dport != t->dport)
    return 0;
  if ((t->have & (1u << TF_PORT)) && k->sport != t->port && k->dport != t->port)
    return 0;
  return 1;
}

static int rule_match(const struct rule *r, const struct xdp_frame *f) {
  switch (r->match) {
  case MATCH_BPF:
    return f->data && f->caplen && trace_filter_match_bytes(r->flt, f->data, f->caplen, f->wire_len);
  case MATCH_TUPLE:
    return tuple_match(&r->t, f);
  default:
    return 1;
  }
}

enum xdp_action xdp_prog_run(struct xdp_prog *p, const struct xdp_frame *f, unsigned *target,
                             uint32_t *evaluated) {
  *target = 0;
  for (size_t i = 0; i < p->n; i++) {
    if (rule_match(&p->r[i], f)) {
      *evaluated = (uint32_t)i + 1;
      p->r[i].hits++;
      *target = p->r[i].target;
      return (enum xdp_action)p->r[i].action;
    }
  }
  *evaluated = (uint32_t)p->n;
  p->no_match++;
  return XDP_ACTION_PASS;
}

size_t xdp_prog_rule_count(const struct xdp_prog *p) { return p ? p->n : 0; }
const char *xdp_prog_rule_text(const struct xdp_prog *p, size_t i) { return i < p->n ? p->r[i].text : ""; }
uint64_t xdp_prog_hits(const struct xdp_prog *p, size_t i) { return i < p->n ? p->r[i].hits : 0; }
uint64_t xdp_prog_no_match(const struct xdp_prog *p) { return p ? p->no_match : 0; }
