/*
 * sim/scenario/config: scenario keys (contract.md), their defaults, --set
 * parsing with errors that name the key and what is allowed, cross-key
 * validation, the JSON text of each value, and the built-in designs with the
 * settings mission.md gives them.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checker.h"
#include "config.h"
#include "iommu.h"

static char err[1024];

static long key_index(const char *name) {
  for (size_t i = 0; i < config_key_count(); i++)
    if (strcmp(config_key_name(i), name) == 0)
      return (long)i;
  return -1;
}

static const char *json_of(const struct config *c, const char *key) {
  static char buf[2048];
  long i = key_index(key);
  ck_assert_msg(i >= 0, "no key %s", key);
  memset(buf, 0, sizeof buf);
  config_key_json(c, (size_t)i, buf, sizeof buf);
  return buf;
}

static void set_ok(struct config *c, const char *key, const char *value) {
  err[0] = '\0';
  int rc = config_set(c, key, value, err, sizeof err);
  ck_assert_msg(rc == 0, "%s=%s refused: %s", key, value, err);
}

/* The value is refused, the error names the key and contains `allowed`,
 * and the configuration is unchanged. */
static void set_bad(struct config *c, const char *key, const char *value, const char *allowed) {
  struct config before;
  memcpy(&before, c, sizeof before);
  err[0] = '\0';
  int rc = config_set(c, key, value, err, sizeof err);
  ck_assert_msg(rc == -1, "%s=%s accepted", key, value);
  ck_assert_msg(strstr(err, key) != NULL, "error for %s=%s does not name the key: %s", key, value, err);
  if (allowed)
    ck_assert_msg(strstr(err, allowed) != NULL, "error for %s=%s lacks '%s': %s", key, value,
                  allowed, err);
  ck_assert_msg(memcmp(&before, c, sizeof before) == 0, "%s=%s changed the config", key, value);
  ck_assert_ptr_null(strchr(err, '\n'));
}

/* ---- defaults ---- */

static const struct {
  const char *key, *json;
} defaults[] = {
    {"nic.queues", "1"},
    {"nic.line_rate_gbps", "10"},
    {"nic.rss_queues", "[0]"},
    {"nic.header_split", "false"},
    {"nic.ring_size", "512"},
    {"nic.buffer_size", "2048"},
    {"nic.steer_app_to", "\"none\""},
    {"iommu.mode", "\"lazy\""},        /* Linux's default for DMA domains */
    {"iommu.iotlb_entries", "64"},     /* calibration.md */
    {"pool.pages", "0"},
    {"pool.clear", "\"never\""},       /* merged page_pool never clears */
    {"pool.frag", "false"},
    {"driver.skb_mode", "\"writable\""},
    {"driver.dma_mapping", "\"pool\""},
    {"app.owns", "\"\""},
    {"app.caps", "[]"},
    {"app.mapping", "\"ro\""},
    {"app.mapping_lifetime", "\"persistent\""},
    {"app.hold_us", "0"},
    {"app.delivery", "\"copy\""},
    {"app.zc_queues", "[0]"},
    {"cpu.ghz", "4"},                  /* the i7-6700K of the memset figures */
};
#define NDEFAULTS (sizeof defaults / sizeof defaults[0])

START_TEST(test_contract_keys_and_defaults) {
  struct config c;
  memset(&c, 0xa5, sizeof c);
  config_default(&c);
  for (size_t i = 0; i < NDEFAULTS; i++)
    ck_assert_msg(strcmp(json_of(&c, defaults[i].key), defaults[i].json) == 0, "%s: %s, expected %s",
                  defaults[i].key, json_of(&c, defaults[i].key), defaults[i].json);
  ck_assert_uint_eq(c.nic_queues, 1);
  ck_assert(c.nic_line_rate_gbps == 10.0);
  ck_assert_uint_eq(c.nic_rss_queues & 1, 1);
  ck_assert_int_eq(c.nic_header_split, 0);
  ck_assert_uint_eq(c.nic_ring_size, 512);
  ck_assert_uint_eq(c.nic_buffer_size, 2048);
  ck_assert_int_eq(c.nic_steer_app_to, -1);
  ck_assert_uint_eq(c.iommu_mode, IOMMU_LAZY);
  ck_assert_uint_eq(c.iommu_iotlb_entries, 64);
  ck_assert_uint_eq(c.pool_pages, 0); /* no cap, as Linux's page_pool */
  ck_assert_uint_eq(c.sock_rcvbuf_bytes, 212992); /* net.core.rmem_default */
  ck_assert_uint_eq(c.pool_clear, CFG_CLEAR_NEVER);
  ck_assert_int_eq(c.pool_frag, 0);
  ck_assert_uint_eq(c.driver_skb_mode, CFG_SKB_WRITABLE);
  ck_assert_uint_eq(c.driver_dma_mapping, CFG_DMA_POOL);
  ck_assert_str_eq(c.app_owns, "");
  ck_assert_uint_eq(c.app_caps, 0);
  ck_assert_uint_eq(c.app_mapping, CFG_MAP_RO);
  ck_assert_uint_eq(c.app_mapping_lifetime, CFG_LIFETIME_PERSISTENT);
  ck_assert(c.app_hold_us == 0.0);
  ck_assert_uint_eq(c.app_delivery, CFG_DELIVERY_COPY);
  ck_assert(c.cpu_ghz == 4.0);
  ck_assert_int_eq(config_validate(&c, err, sizeof err), 0);
}
END_TEST

START_TEST(test_key_table) {
  ck_assert_uint_ge(config_key_count(), NDEFAULTS);
  for (size_t i = 0; i < config_key_count(); i++) {
    ck_assert_ptr_nonnull(config_key_name(i));
    ck_assert_ptr_nonnull(config_key_help(i));
    ck_assert_uint_gt(strlen(config_key_help(i)), 0);
    ck_assert_ptr_nonnull(strchr(config_key_name(i), '.'));
    for (size_t j = 0; j < i; j++)
      ck_assert_str_ne(config_key_name(i), config_key_name(j));
  }
  ck_assert_ptr_null(config_key_name(config_key_count()));
  ck_assert_ptr_null(config_key_help(config_key_count()));
  struct config c;
  config_default(&c);
  char buf[64];
  config_key_json(&c, config_key_count(), buf, sizeof buf);
  ck_assert_str_eq(buf, "null");
}
END_TEST

/* Every value's JSON text is a JSON string, list, boolean or number. */
START_TEST(test_json_shapes) {
  struct config c;
  config_default(&c);
  set_ok(&c, "nic.queues", "8");
  set_ok(&c, "app.owns", "udp port 5001");
  set_ok(&c, "app.caps", "[CAP_NET_ADMIN]");
  for (size_t i = 0; i < config_key_count(); i++) {
    char buf[2048];
    config_key_json(&c, i, buf, sizeof buf);
    size_t n = strlen(buf);
    ck_assert_uint_gt(n, 0);
    if (buf[0] == '"') {
      ck_assert_msg(n >= 2 && buf[n - 1] == '"', "%s: %s", config_key_name(i), buf);
    } else if (buf[0] == '[') {
      ck_assert_msg(buf[n - 1] == ']', "%s: %s", config_key_name(i), buf);
    } else if (strcmp(buf, "true") && strcmp(buf, "false")) {
      char *end;
      strtod(buf, &end);
      ck_assert_msg(*end == '\0', "%s: %s is not a JSON value", config_key_name(i), buf);
    }
  }
}
END_TEST

/* ---- config_set by type ---- */

START_TEST(test_set_integers) {
  struct config c;
  config_default(&c);
  set_ok(&c, "nic.queues", "4");
  ck_assert_uint_eq(c.nic_queues, 4);
  ck_assert_str_eq(json_of(&c, "nic.queues"), "4");
  set_ok(&c, "nic.queues", "64");
  ck_assert_uint_eq(c.nic_queues, 64);
  set_ok(&c, "nic.queues", " 2 ");
  ck_assert_uint_eq(c.nic_queues, 2);
  set_bad(&c, "nic.queues", "0", "1..64");
  set_bad(&c, "nic.queues", "65", "1..64");
  set_bad(&c, "nic.queues", "-1", "1..64");
  set_bad(&c, "nic.queues", "four", "1..64");
  set_bad(&c, "nic.queues", "", "1..64");
  set_bad(&c, "nic.queues", "4x", NULL);
  set_bad(&c, "nic.queues", "99999999999999999999999", NULL);
  ck_assert_uint_eq(c.nic_queues, 2);

  set_ok(&c, "nic.ring_size", "1024");
  ck_assert_uint_eq(c.nic_ring_size, 1024);
  set_ok(&c, "nic.ring_size", "8");
  set_ok(&c, "nic.ring_size", "8192");
  set_bad(&c, "nic.ring_size", "100", "power of two");
  set_bad(&c, "nic.ring_size", "1000", "power of two");
  set_bad(&c, "nic.ring_size", "4", "power of two");
  set_bad(&c, "nic.ring_size", "16384", "power of two");
  ck_assert_uint_eq(c.nic_ring_size, 8192);

  set_ok(&c, "nic.buffer_size", "3520"); /* 4096 - 256 headroom - 320 skb_shared_info */
  ck_assert_uint_eq(c.nic_buffer_size, 3520);
  set_ok(&c, "nic.buffer_size", "256");
  set_bad(&c, "nic.buffer_size", "3521", "3520");
  set_bad(&c, "nic.buffer_size", "4096", "3520");

  set_ok(&c, "iommu.iotlb_entries", "1");
  ck_assert_uint_eq(c.iommu_iotlb_entries, 1);
  set_bad(&c, "iommu.iotlb_entries", "0", NULL);
  set_ok(&c, "pool.pages", "4096");
  ck_assert_uint_eq(c.pool_pages, 4096);
  set_ok(&c, "pool.pages", "unlimited");
  ck_assert_uint_eq(c.pool_pages, 0);
  set_ok(&c, "pool.pages", "0");
  ck_assert_uint_eq(c.pool_pages, 0);
  set_bad(&c, "pool.pages", "limitless", "unlimited");
  set_bad(&c, "pool.pages", "2000000", NULL);
  set_ok(&c, "sock.rcvbuf_bytes", "4194304");
  ck_assert_uint_eq(c.sock_rcvbuf_bytes, 4194304);
  set_bad(&c, "sock.rcvbuf_bytes", "1000", "2304"); /* below SOCK_MIN_RCVBUF */
}
END_TEST

START_TEST(test_set_doubles) {
  struct config c;
  config_default(&c);
  set_ok(&c, "nic.line_rate_gbps", "25");
  ck_assert(c.nic_line_rate_gbps == 25.0);
  ck_assert_str_eq(json_of(&c, "nic.line_rate_gbps"), "25");
  set_ok(&c, "nic.line_rate_gbps", "100");
  set_ok(&c, "nic.line_rate_gbps", "2.5");
  ck_assert(c.nic_line_rate_gbps == 2.5);
  ck_assert_str_eq(json_of(&c, "nic.line_rate_gbps"), "2.5");
  set_bad(&c, "nic.line_rate_gbps", "0", NULL);
  set_bad(&c, "nic.line_rate_gbps", "-10", NULL);
  set_bad(&c, "nic.line_rate_gbps", "1001", NULL);
  set_bad(&c, "nic.line_rate_gbps", "nan", NULL);
  set_bad(&c, "nic.line_rate_gbps", "inf", NULL);
  set_bad(&c, "nic.line_rate_gbps", "10G", NULL);
  set_bad(&c, "nic.line_rate_gbps", "", NULL);
  ck_assert(c.nic_line_rate_gbps == 2.5);
  set_ok(&c, "cpu.ghz", "3.5");
  ck_assert(c.cpu_ghz == 3.5);
  set_bad(&c, "cpu.ghz", "0", NULL);
  set_bad(&c, "cpu.ghz", "11", NULL);
  set_ok(&c, "app.hold_us", "0");
  set_ok(&c, "app.hold_us", "1500.5");
  ck_assert(c.app_hold_us == 1500.5);
  ck_assert_str_eq(json_of(&c, "app.hold_us"), "1500.5");
  set_bad(&c, "app.hold_us", "-1", NULL);
}
END_TEST

START_TEST(test_set_bools) {
  struct config c;
  config_default(&c);
  const char *keys[] = {"nic.header_split", "pool.frag"};
  for (int i = 0; i < 2; i++) {
    set_ok(&c, keys[i], "true");
    ck_assert_str_eq(json_of(&c, keys[i]), "true");
    set_ok(&c, keys[i], " false ");
    ck_assert_str_eq(json_of(&c, keys[i]), "false");
    set_bad(&c, keys[i], "yes", "true or false");
    set_bad(&c, keys[i], "1", "true or false");
    set_bad(&c, keys[i], "truee", "true or false");
  }
  set_ok(&c, "nic.header_split", "true");
  ck_assert_int_eq(c.nic_header_split, 1);
  set_ok(&c, "pool.frag", "true");
  ck_assert_int_eq(c.pool_frag, 1);
}
END_TEST

START_TEST(test_set_enums) {
  struct config c;
  config_default(&c);
  static const struct {
    const char *key, *allowed;
    const char *values[5];
  } enums[] = {
      {"iommu.mode", "strict, lazy, passthrough, off", {"strict", "lazy", "passthrough", "off", NULL}},
      {"pool.clear", "never, on_entry, on_recycle", {"never", "on_entry", "on_recycle", NULL}},
      {"driver.skb_mode", "writable, readonly", {"writable", "readonly", NULL}},
      {"driver.dma_mapping", "pool, per_packet", {"pool", "per_packet", NULL}},
      {"app.mapping", "ro, rw", {"ro", "rw", NULL}},
      {"app.mapping_lifetime", "persistent, per_packet", {"persistent", "per_packet", NULL}},
      {"app.delivery", "copy, zero_copy", {"copy", "zero_copy", NULL}},
  };
  for (size_t e = 0; e < sizeof enums / sizeof enums[0]; e++) {
    for (int v = 0; enums[e].values[v]; v++) {
      set_ok(&c, enums[e].key, enums[e].values[v]);
      char want[64];
      snprintf(want, sizeof want, "\"%s\"", enums[e].values[v]);
      ck_assert_str_eq(json_of(&c, enums[e].key), want);
    }
    set_bad(&c, enums[e].key, "bogus", enums[e].allowed);
    set_bad(&c, enums[e].key, "", enums[e].allowed);
  }
  set_ok(&c, "iommu.mode", "strict");
  ck_assert_uint_eq(c.iommu_mode, IOMMU_STRICT);
  set_ok(&c, "iommu.mode", "passthrough");
  ck_assert_uint_eq(c.iommu_mode, IOMMU_PASSTHROUGH);
  set_ok(&c, "iommu.mode", "off");
  ck_assert_uint_eq(c.iommu_mode, IOMMU_OFF);
  set_bad(&c, "iommu.mode", "STRICT", "strict, lazy, passthrough, off");
  set_bad(&c, "iommu.mode", "stric", NULL);
  set_ok(&c, "pool.clear", "on_recycle");
  ck_assert_uint_eq(c.pool_clear, CFG_CLEAR_ON_RECYCLE);
  set_ok(&c, "driver.skb_mode", "readonly");
  ck_assert_uint_eq(c.driver_skb_mode, CFG_SKB_READONLY);
  set_ok(&c, "driver.dma_mapping", "per_packet");
  ck_assert_uint_eq(c.driver_dma_mapping, CFG_DMA_PER_PACKET);
  set_ok(&c, "app.mapping", "rw");
  ck_assert_uint_eq(c.app_mapping, CFG_MAP_RW);
  set_ok(&c, "app.mapping_lifetime", "per_packet");
  ck_assert_uint_eq(c.app_mapping_lifetime, CFG_LIFETIME_PER_PACKET);
  set_ok(&c, "app.delivery", "zero_copy");
  ck_assert_uint_eq(c.app_delivery, CFG_DELIVERY_ZERO_COPY);
}
END_TEST

START_TEST(test_set_queue_lists) {
  struct config c;
  config_default(&c);
  set_ok(&c, "nic.queues", "8");
  set_ok(&c, "nic.rss_queues", "[0,1,2]");
  ck_assert_uint_eq(c.nic_rss_queues, 0x7);
  ck_assert_str_eq(json_of(&c, "nic.rss_queues"), "[0,1,2]");
  set_ok(&c, "nic.rss_queues", "0, 3");
  ck_assert_uint_eq(c.nic_rss_queues, 0x9);
  set_ok(&c, "nic.rss_queues", " [ 5 , 7 ] ");
  ck_assert_uint_eq(c.nic_rss_queues, 0xa0);
  ck_assert_str_eq(json_of(&c, "nic.rss_queues"), "[5,7]");
  set_ok(&c, "nic.rss_queues", "[63]");
  ck_assert_uint_eq(c.nic_rss_queues, 1ull << 63);
  set_ok(&c, "nic.rss_queues", "all");
  ck_assert_str_eq(json_of(&c, "nic.rss_queues"), "[0,1,2,3,4,5,6,7]");
  set_ok(&c, "nic.rss_queues", "[]");
  ck_assert_uint_eq(c.nic_rss_queues, 0);
  ck_assert_str_eq(json_of(&c, "nic.rss_queues"), "[]");
  set_ok(&c, "nic.rss_queues", "[1,1,1]");
  ck_assert_uint_eq(c.nic_rss_queues, 0x2);
  const char *allowed = "0..63";
  set_bad(&c, "nic.rss_queues", "[0,64]", allowed);
  set_bad(&c, "nic.rss_queues", "[0,x]", allowed);
  set_bad(&c, "nic.rss_queues", "[0,1", allowed);
  set_bad(&c, "nic.rss_queues", "0,1]", allowed);
  set_bad(&c, "nic.rss_queues", "[-1]", allowed);
  set_bad(&c, "nic.rss_queues", "[0,,1]", allowed);
  set_bad(&c, "nic.rss_queues", "[0,1,]", allowed);
  set_bad(&c, "nic.rss_queues", "[,0]", allowed);
  set_bad(&c, "nic.rss_queues", "[1.5]", allowed);
  set_bad(&c, "nic.rss_queues", "some", allowed);
  ck_assert_uint_eq(c.nic_rss_queues, 0x2);

  set_ok(&c, "app.zc_queues", "[3]");
  ck_assert_uint_eq(c.app_zc_queues, 0x8);
  ck_assert_str_eq(json_of(&c, "app.zc_queues"), "[3]");
  set_bad(&c, "app.zc_queues", "[100]", allowed);

  set_ok(&c, "nic.steer_app_to", "3");
  ck_assert_int_eq(c.nic_steer_app_to, 3);
  ck_assert_str_eq(json_of(&c, "nic.steer_app_to"), "3");
  set_ok(&c, "nic.steer_app_to", "0");
  ck_assert_int_eq(c.nic_steer_app_to, 0);
  set_ok(&c, "nic.steer_app_to", "none");
  ck_assert_int_eq(c.nic_steer_app_to, -1);
  ck_assert_str_eq(json_of(&c, "nic.steer_app_to"), "\"none\"");
  set_bad(&c, "nic.steer_app_to", "64", "none");
  set_bad(&c, "nic.steer_app_to", "-1", "none");
  set_bad(&c, "nic.steer_app_to", "queue3", "none");
}
END_TEST

START_TEST(test_set_strings_and_caps) {
  struct config c;
  config_default(&c);
  set_ok(&c, "app.owns", "udp port 5001");
  ck_assert_str_eq(c.app_owns, "udp port 5001");
  ck_assert_str_eq(json_of(&c, "app.owns"), "\"udp port 5001\"");
  set_ok(&c, "app.owns", "host \"a\\b\"");
  ck_assert_str_eq(json_of(&c, "app.owns"), "\"host \\\"a\\\\b\\\"\"");
  set_ok(&c, "app.owns", "a\tb");
  ck_assert_str_eq(json_of(&c, "app.owns"), "\"a\\u0009b\"");
  set_ok(&c, "app.owns", "");
  ck_assert_str_eq(c.app_owns, "");
  char longv[CFG_OWNS_MAX + 1];
  memset(longv, 'x', sizeof longv);
  longv[CFG_OWNS_MAX - 1] = '\0';
  set_ok(&c, "app.owns", longv);
  ck_assert_uint_eq(strlen(c.app_owns), CFG_OWNS_MAX - 1);
  longv[CFG_OWNS_MAX - 1] = 'x';
  longv[CFG_OWNS_MAX] = '\0';
  set_bad(&c, "app.owns", longv, NULL);

  set_ok(&c, "app.caps", "[CAP_NET_ADMIN]");
  ck_assert_uint_eq(c.app_caps, POLICY_CAP_NET_ADMIN);
  ck_assert_str_eq(json_of(&c, "app.caps"), "[\"CAP_NET_ADMIN\"]");
  set_ok(&c, "app.caps", "[]");
  ck_assert_uint_eq(c.app_caps, 0);
  ck_assert_str_eq(json_of(&c, "app.caps"), "[]");
  set_ok(&c, "app.caps", "CAP_NET_ADMIN");
  ck_assert_uint_eq(c.app_caps, POLICY_CAP_NET_ADMIN);
  set_bad(&c, "app.caps", "[CAP_SYS_ADMIN]", "CAP_NET_ADMIN");
  set_bad(&c, "app.caps", "[CAP_NET_ADMIN, CAP_BOGUS]", "CAP_NET_ADMIN");
  set_bad(&c, "app.caps", "[cap_net_admin]", "CAP_NET_ADMIN");
  ck_assert_uint_eq(c.app_caps, POLICY_CAP_NET_ADMIN);
}
END_TEST

START_TEST(test_unknown_key) {
  struct config c;
  config_default(&c);
  set_bad(&c, "nic.foo", "1", NULL);
  set_bad(&c, "queues", "1", NULL);
  set_bad(&c, "NIC.QUEUES", "1", NULL);
  set_bad(&c, "", "1", NULL);
}
END_TEST

/* ---- validation ---- */

static void valid(const struct config *c) {
  err[0] = '\0';
  ck_assert_msg(config_validate(c, err, sizeof err) == 0, "refused: %s", err);
}
static void invalid(const struct config *c, const char *a, const char *b) {
  err[0] = '\0';
  ck_assert_int_eq(config_validate(c, err, sizeof err), -1);
  ck_assert_msg(strstr(err, a) != NULL, "'%s' not in: %s", a, err);
  if (b)
    ck_assert_msg(strstr(err, b) != NULL, "'%s' not in: %s", b, err);
}

START_TEST(test_validate) {
  struct config c;
  config_default(&c);
  valid(&c);
  set_ok(&c, "nic.queues", "4");
  valid(&c); /* "all" RSS queues fit any count */
  set_ok(&c, "nic.rss_queues", "[0,5]");
  invalid(&c, "nic.rss_queues", "5");
  set_ok(&c, "nic.rss_queues", "[0,3]");
  valid(&c);
  set_ok(&c, "nic.rss_queues", "[4]");
  invalid(&c, "nic.rss_queues", "4");
  set_ok(&c, "nic.rss_queues", "[]");
  invalid(&c, "nic.rss_queues", NULL);
  set_ok(&c, "nic.rss_queues", "all");

  set_ok(&c, "app.zc_queues", "[7]");
  invalid(&c, "app.zc_queues", "7");
  set_ok(&c, "app.zc_queues", "[3]");
  valid(&c);

  set_ok(&c, "nic.steer_app_to", "4");
  invalid(&c, "nic.steer_app_to", "4");
  set_ok(&c, "nic.steer_app_to", "3");
  valid(&c);

  /* A pool smaller than the ring cannot fill it. */
  set_ok(&c, "nic.ring_size", "512");
  set_ok(&c, "pool.pages", "256");
  invalid(&c, "pool.pages", "nic.ring_size");
  set_ok(&c, "pool.pages", "512");
  valid(&c);
  set_ok(&c, "nic.ring_size", "1024");
  invalid(&c, "pool.pages", "1024");
}
END_TEST

/* Every pool, and the application's region, must fit the simulated RAM
 * beside the kernel's reserve; the message names both keys and the range. */
START_TEST(test_validate_ram) {
  struct config c;
  config_default(&c);
  set_ok(&c, "host.ram_mb", "64"); /* 16384 pages, 4096 kept back */
  set_ok(&c, "pool.pages", "12288");
  valid(&c);
  set_ok(&c, "pool.pages", "12289");
  invalid(&c, "pool.pages: 1 queues x 12289 pages", "allowed: 512..12288 pages per pool");
  invalid(&c, "host.ram_mb", NULL);
  set_ok(&c, "nic.queues", "2");
  set_ok(&c, "pool.pages", "6144");
  valid(&c);
  set_ok(&c, "pool.pages", "6145");
  invalid(&c, "pool.pages", "6144 pages per pool");
  /* the application's region comes out of the same RAM */
  config_default(&c);
  set_ok(&c, "host.ram_mb", "64");
  set_ok(&c, "pool.pages", "12288");
  set_ok(&c, "app.delivery", "af_xdp");
  set_ok(&c, "app.zc_queues", "[0]");
  set_ok(&c, "app.umem_pages", "1");
  invalid(&c, "pool.pages", "the application's region");
  set_ok(&c, "pool.pages", "12287");
  valid(&c);
  set_bad(&c, "host.ram_mb", "63", "64..16384");
  set_bad(&c, "trace.max_flows", "15", "16..16777216");
}
END_TEST

/* ---- principals ---- */

START_TEST(test_principals) {
  struct config c;
  config_default(&c);
  c.nic_queues = 4;
  set_ok(&c, "principals.0.name", "web");
  set_ok(&c, "principals.0.owns", "tcp port 443");
  set_ok(&c, "principals.0.delivery", "zero_copy");
  set_ok(&c, "principals.0.queue", "3");
  set_ok(&c, "principals.1.name", "db");
  ck_assert_uint_eq(c.nprincipals, 2);
  ck_assert_str_eq(c.principals[0].owns, "tcp port 443");
  ck_assert_int_eq(c.principals[1].queue, -1); /* defaults for a new entry */
  ck_assert_uint_eq(c.principals[1].delivery, CFG_DELIVERY_COPY);
  valid(&c);
  /* zc_queues defaults to its queue; the queue leaves the RSS table */
  ck_assert_uint_eq(config_principal_zc_queues(&c, &c.principals[0]), 1ull << 3);
  ck_assert_uint_eq(config_rss_queues(&c) & 0xf, 0x7);
  ck_assert_uint_eq(config_principal_zc_queues(&c, &c.principals[1]), 0); /* copy */
  set_ok(&c, "principals.1.delivery", "zero_copy");
  ck_assert_uint_eq(config_principal_zc_queues(&c, &c.principals[1]), 0xf); /* no queue: every queue */
  set_bad(&c, "principals.3.name", "x", "2 principals are listed");
  set_bad(&c, "principals.0.delivery", "af_xdp", "copy, zero_copy");
  set_bad(&c, "principals.0.colour", "red", "name, owns, caps");
  set_bad(&c, "principals.0.name", "a-name-of-thirty-three-characters", "allowed 1..32");
  set_ok(&c, "principals.1.name", "web");
  invalid(&c, "principals.1.name", "already the name of principal 0");
  set_ok(&c, "principals.1.name", "other");
  invalid(&c, "principals.1.name", "reserved");
  set_ok(&c, "principals.1.name", "db");
  set_ok(&c, "principals.1.queue", "9");
  invalid(&c, "principals.1.queue", "allowed 0..3");
  set_ok(&c, "principals.1.queue", "none");
  set_ok(&c, "nic.rss_queues", "[3]");
  invalid(&c, "nic.rss_queues", "leave none");
  set_ok(&c, "principals", "[]");
  ck_assert_uint_eq(c.nprincipals, 0);
  valid(&c);
}
END_TEST

/* ---- designs ---- */

START_TEST(test_every_design_loads) {
  ck_assert_uint_ge(design_count(), 3);
  for (size_t i = 0; i < design_count(); i++) {
    const struct design *d = design_get(i);
    ck_assert_ptr_nonnull(d);
    ck_assert_ptr_nonnull(d->name);
    ck_assert_uint_gt(strlen(d->name), 0);
    ck_assert_ptr_nonnull(d->summary);
    ck_assert_uint_gt(strlen(d->summary), 0);
    ck_assert_ptr_nonnull(d->settings);
    ck_assert_ptr_eq(design_find(d->name), d);
    for (size_t j = 0; j < i; j++)
      ck_assert_str_ne(design_get(j)->name, d->name);
    /* Each setting is KEY=VALUE with a known key. */
    for (size_t k = 0; d->settings[k]; k++) {
      const char *eq = strchr(d->settings[k], '=');
      ck_assert_ptr_nonnull(eq);
      char key[128];
      snprintf(key, sizeof key, "%.*s", (int)(eq - d->settings[k]), d->settings[k]);
      /* principals: "principals" (the list emptied) and principals.N.FIELD */
      const char *field = strrchr(key, '.');
      int principal_key = strcmp(key, "principals") == 0 ||
                          (strncmp(key, "principals.", 11) == 0 && field && config_principal_field(field + 1) >= 0);
      ck_assert_msg(key_index(key) >= 0 || principal_key, "design %s: unknown key %s", d->name, key);
    }
    struct config c;
    err[0] = '\0';
    ck_assert_msg(config_from_design(&c, d->name, err, sizeof err) == 0, "%s: %s", d->name, err);
    ck_assert_msg(config_validate(&c, err, sizeof err) == 0, "%s: %s", d->name, err);
  }
  ck_assert_ptr_null(design_get(design_count()));
}
END_TEST

static struct config design(const char *name) {
  struct config c;
  err[0] = '\0';
  ck_assert_msg(design_find(name) != NULL, "no design %s", name);
  ck_assert_msg(config_from_design(&c, name, err, sizeof err) == 0, "%s: %s", name, err);
  return c;
}

static uint64_t all_queues(const struct config *c) {
  return c->nic_queues >= 64 ? UINT64_MAX : (1ull << c->nic_queues) - 1;
}

START_TEST(test_design_copy) {
  struct config c = design("copy");
  ck_assert_uint_eq(c.app_delivery, CFG_DELIVERY_COPY);
  ck_assert_uint_eq(c.driver_skb_mode, CFG_SKB_WRITABLE);
  ck_assert_uint_eq(c.driver_dma_mapping, CFG_DMA_POOL);
}
END_TEST

static void assert_shared_ring(const struct config *c) {
  ck_assert_uint_eq(c->app_delivery, CFG_DELIVERY_ZERO_COPY);
  ck_assert_uint_eq(c->app_mapping, CFG_MAP_RO);
  ck_assert_uint_eq(c->app_mapping_lifetime, CFG_LIFETIME_PERSISTENT);
  ck_assert_uint_eq(c->pool_clear, CFG_CLEAR_ON_ENTRY);
  ck_assert_int_eq(c->nic_steer_app_to, -1);
  /* One queue, or RSS over all queues with every pool mapped. */
  uint64_t all = all_queues(c);
  ck_assert((c->app_zc_queues & all) == all);
  ck_assert((c->nic_rss_queues & all) == all);
}

START_TEST(test_design_zc_shared_ring) {
  struct config c = design("zc-shared-ring");
  assert_shared_ring(&c);
  ck_assert_uint_eq(c.driver_skb_mode, CFG_SKB_READONLY);
  struct config w = design("zc-shared-ring-writable");
  assert_shared_ring(&w);
  ck_assert_uint_eq(w.driver_skb_mode, CFG_SKB_WRITABLE);
}
END_TEST

START_TEST(test_design_dedicated_queue) {
  struct config c = design("zc-dedicated-queue");
  ck_assert_uint_eq(c.nic_queues, 4);
  ck_assert_uint_eq(c.nic_rss_queues & 0xf, 0x7);
  ck_assert_int_eq(c.nic_steer_app_to, 3);
  ck_assert_uint_eq(c.app_zc_queues & 0xf, 0x8);
  ck_assert_uint_eq(c.app_delivery, CFG_DELIVERY_ZERO_COPY);
  ck_assert_uint_eq(c.app_mapping, CFG_MAP_RO);
  ck_assert_uint_eq(c.app_mapping_lifetime, CFG_LIFETIME_PERSISTENT);
  ck_assert_uint_eq(c.pool_clear, CFG_CLEAR_ON_ENTRY);
  struct config l = design("zc-dedicated-queue-rss-leak");
  ck_assert_uint_eq(l.nic_queues, 4);
  ck_assert_uint_eq(l.nic_rss_queues & 0xf, 0xf);
  ck_assert_int_eq(l.nic_steer_app_to, 3);
  ck_assert_uint_eq(l.app_zc_queues & 0xf, 0x8);
  ck_assert_uint_eq(l.pool_clear, CFG_CLEAR_ON_ENTRY);
}
END_TEST

START_TEST(test_design_unknown) {
  struct config c;
  err[0] = '\0';
  ck_assert_ptr_null(design_find("no-such-design"));
  ck_assert_int_eq(config_from_design(&c, "no-such-design", err, sizeof err), -1);
  ck_assert_ptr_nonnull(strstr(err, "no-such-design"));
  ck_assert_ptr_nonnull(strstr(err, "copy"));
  ck_assert_ptr_nonnull(strstr(err, "zc-shared-ring"));
  ck_assert_ptr_null(design_find(""));
  ck_assert_ptr_null(design_find("COPY"));
}
END_TEST

START_TEST(test_design_then_set) {
  /* --set applies after --design. */
  struct config c = design("zc-shared-ring");
  set_ok(&c, "pool.clear", "on_recycle");
  set_ok(&c, "app.mapping_lifetime", "per_packet");
  ck_assert_uint_eq(c.pool_clear, CFG_CLEAR_ON_RECYCLE);
  ck_assert_uint_eq(c.app_mapping_lifetime, CFG_LIFETIME_PER_PACKET);
  ck_assert_uint_eq(c.driver_skb_mode, CFG_SKB_READONLY);
  /* Loading a design starts from the defaults again. */
  struct config d;
  config_default(&d);
  set_ok(&d, "cpu.ghz", "2");
  ck_assert_int_eq(config_from_design(&d, "copy", err, sizeof err), 0);
  ck_assert(d.cpu_ghz == 4.0);
}
END_TEST

static Suite *config_suite(void) {
  Suite *s = suite_create("config");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_contract_keys_and_defaults);
  tcase_add_test(tc, test_key_table);
  tcase_add_test(tc, test_json_shapes);
  tcase_add_test(tc, test_set_integers);
  tcase_add_test(tc, test_set_doubles);
  tcase_add_test(tc, test_set_bools);
  tcase_add_test(tc, test_set_enums);
  tcase_add_test(tc, test_set_queue_lists);
  tcase_add_test(tc, test_set_strings_and_caps);
  tcase_add_test(tc, test_unknown_key);
  tcase_add_test(tc, test_validate);
  tcase_add_test(tc, test_validate_ram);
  tcase_add_test(tc, test_every_design_loads);
  tcase_add_test(tc, test_principals);
  tcase_add_test(tc, test_design_copy);
  tcase_add_test(tc, test_design_zc_shared_ring);
  tcase_add_test(tc, test_design_dedicated_queue);
  tcase_add_test(tc, test_design_unknown);
  tcase_add_test(tc, test_design_then_set);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  Suite *s = config_suite();
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int nf = srunner_ntests_failed(sr);
  srunner_free(sr);
  return nf == 0 ? 0 : 1;
}
