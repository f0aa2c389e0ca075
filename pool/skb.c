/*
 * skb.c: skb construction and release. See skb.h.
 *
 * Models net/core/skbuff.c: build_skb / napi_build_skb over the buffer's
 * area (writable mode: skb_shared_info at its end, __build_skb_around), a
 * separate head with the headers copied and the payload as frags[0]
 * (read-only mode, and the header buffer of a split frame: __napi_alloc_skb
 * + skb_add_rx_frag, as ixgbe_construct_skb in ixgbe_main.c), and
 * skb_release_data (the last read of the shared info when the skb is
 * freed). The shared info's layout is linux_layout.h's.
 */
#include "skb.h"

#include <string.h>

/* The slab of separate skb heads (kmalloc-1k objects in kernel pages).
 * 0, or -1 when simulated RAM runs out. */
int skb_heads_setup(struct driver *d) {
  for (size_t i = 0; i < sizeof d->head_pfns / sizeof d->head_pfns[0]; i++)
    if (mem_page_alloc(d->m, &d->head_pfns[i]))
      return -1;
  return 0;
}

/* kernel pointers as they would appear in skb_shared_info: struct page
 * pointers into the vmemmap and slab pointers into the direct map. */
static void fill_shinfo(uint8_t *si, uint64_t frag_pfn, uint32_t frag_off, uint32_t frag_len,
                        uint64_t seq) {
  /* Offsets of struct skb_shared_info and skb_frag_t (linux_layout.h,
   * checked against the kernel's BTF by tests/btf/btf_layout.py). */
  memset(si, 0, DRIVER_SHINFO_BYTES);
  si[LINUX_SHINFO_NR_FRAGS] = frag_len ? 1 : 0;
  uint64_t frag_list = 0;
  uint32_t dataref = 1;
  uint64_t destructor_arg = 0xffff888100000000ull | (seq << 8);
  uint64_t page_ptr = 0xffffea0000000000ull + frag_pfn * LINUX_STRUCT_PAGE_BYTES; /* vmemmap */
  memcpy(si + LINUX_SHINFO_FRAG_LIST, &frag_list, 8);
  memcpy(si + LINUX_SHINFO_DATAREF, &dataref, 4);
  memcpy(si + LINUX_SHINFO_DESTRUCTOR_ARG, &destructor_arg, 8);
  memcpy(si + LINUX_SHINFO_FRAGS + LINUX_SKB_FRAG_PAGE, &page_ptr, 8); /* frags[0] */
  memcpy(si + LINUX_SHINFO_FRAGS + LINUX_SKB_FRAG_LEN, &frag_len, 4);
  memcpy(si + LINUX_SHINFO_FRAGS + LINUX_SKB_FRAG_OFFSET, &frag_off, 4);
}

/* The trace packet whose bytes are at paddr, for labelling the kernel data
 * that belongs to it (bookkeeping for explanations, not something the
 * modelled kernel uses). */
static uint64_t packet_at(struct driver *d, uint64_t paddr) {
  const struct mem_label *l = mem_label(d->m, mem_peek_label_id(d->m, paddr));
  return l->prov.kind == MEM_LABEL_PKT_HEADER || l->prov.kind == MEM_LABEL_PKT_PAYLOAD ? l->prov.packet
                                                                                       : UINT64_MAX;
}

/* Build the skb over a frame whose headers (hdr_len bytes) are at hdr_pa and
 * whose first packet buffer is in page pfn. Returns the physical address of
 * skb->data (the headers); *shinfo is where its skb_shared_info is, live
 * (the kernel reads it again when it frees the skb) until skb_free. A
 * separate head is used in read-only mode, and whenever the headers are not
 * in the packet page (header split). */
uint64_t skb_build(struct driver *d, uint64_t hdr_pa, const struct frag *first, uint32_t hdr_len, int separate_head,
                   uint64_t *shinfo) {
  uint64_t pfn = first->b.pfn;
  uint32_t first_len = first->len;
  uint8_t si[DRIVER_SHINFO_BYTES];
  uint64_t index = packet_at(d, hdr_pa);
  struct mem_prov pk = {.kind = MEM_LABEL_KERNEL_PTR, .packet = index};
  cpu_charge(d->cpu, CPU_SKB, d->cpu->costs.skb_alloc + cpu_clear_cycles(DRIVER_SHINFO_BYTES));
  if (!d->p.skb_readonly && !separate_head) {
    /* build_skb(va, truesize): skb_shared_info at the end of the buffer's
     * area (the page, or the fragment), written by the CPU into the packet
     * page. */
    fill_shinfo(si, 0, 0, 0, index);
    *shinfo = (pfn << MEM_PAGE_SHIFT) + first->b.base + first->b.truesize - DRIVER_SHINFO_BYTES;
    mem_write(d->m, kcpu, *shinfo, si, sizeof si, &pk);
    mem_mark_add(d->m, MEM_MARK_LIVE, 0, *shinfo, DRIVER_SHINFO_BYTES);
    return hdr_pa;
  }
  /* A separate head: headers copied there, shared info after them with
   * frags[0] pointing at the payload in the page. */
  uint32_t slot = d->head_next++ % HEAD_SLOTS;
  uint64_t head = (d->head_pfns[slot * HEAD_SLOT_BYTES / MEM_PAGE_SIZE] << MEM_PAGE_SHIFT) +
                  (slot * HEAD_SLOT_BYTES) % MEM_PAGE_SIZE;
  cpu_charge(d->cpu, CPU_SKB, d->cpu->costs.head_alloc);
  if (hdr_len > HEAD_SLOT_BYTES - DRIVER_SHINFO_BYTES)
    hdr_len = HEAD_SLOT_BYTES - DRIVER_SHINFO_BYTES;
  if (hdr_len) {
    mem_copy(d->m, kcpu, head, hdr_pa, hdr_len);
    cpu_charge(d->cpu, CPU_COPY, cpu_copy_cycles(&d->cpu->costs, hdr_len));
  }
  uint32_t frag_off = separate_head && d->p.header_split ? 0 : hdr_len;
  fill_shinfo(si, pfn, first->b.base + first->b.headroom + frag_off,
              first_len > frag_off ? first_len - frag_off : 0, index);
  *shinfo = head + HEAD_SLOT_BYTES - DRIVER_SHINFO_BYTES;
  mem_write(d->m, kcpu, *shinfo, si, sizeof si, &pk);
  mem_mark_add(d->m, MEM_MARK_LIVE, 0, *shinfo, DRIVER_SHINFO_BYTES);
  return head;
}

/* kfree_skb / consume_skb: the kernel reads the shared info one last time
 * (skb_release_data, net/core/skbuff.c) and then it is dead memory. */
void skb_free(struct driver *d, uint64_t shinfo) {
  mem_mark_remove(d->m, MEM_MARK_LIVE, 0, shinfo, DRIVER_SHINFO_BYTES);
}
