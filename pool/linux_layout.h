/*
 * linux_layout: the Linux (x86-64) constants and structure layouts the host
 * model writes or relies on, in one place. tests/btf/btf_layout.py reads this
 * file and compares every value marked "btf:" with the running kernel's BTF
 * (pahole over /sys/kernel/btf/vmlinux); values that are macros, absent from
 * BTF, cite their source only.
 *
 * Marks: "btf: size STRUCT", "btf: offset STRUCT MEMBER", "btf: dim STRUCT
 * MEMBER" (array length); alternatives for older kernels after "|".
 */
#ifndef NICSIM_LINUX_LAYOUT_H
#define NICSIM_LINUX_LAYOUT_H

/* struct skb_shared_info (include/linux/skbuff.h): build_skb puts it at the
 * end of the buffer, SKB_DATA_ALIGN(sizeof) = 320 bytes. */
#define LINUX_SHINFO_BYTES 320u           /* btf: size skb_shared_info */
#define LINUX_SHINFO_NR_FRAGS 2u          /* btf: offset skb_shared_info nr_frags */
#define LINUX_SHINFO_FRAG_LIST 8u         /* btf: offset skb_shared_info frag_list */
#define LINUX_SHINFO_DATAREF 32u          /* btf: offset skb_shared_info dataref */
#define LINUX_SHINFO_DESTRUCTOR_ARG 40u   /* btf: offset skb_shared_info destructor_arg */
#define LINUX_SHINFO_FRAGS 48u            /* btf: offset skb_shared_info frags */
#define LINUX_MAX_SKB_FRAGS 17u           /* btf: dim skb_shared_info frags */
/* skb_frag_t (struct skb_frag; struct bio_vec before Linux 6.x): page or
 * netmem pointer, length, offset. */
#define LINUX_SKB_FRAG_BYTES 16u          /* btf: size skb_frag|bio_vec */
#define LINUX_SKB_FRAG_PAGE 0u            /* btf: offset skb_frag|bio_vec netmem|bv_page */
#define LINUX_SKB_FRAG_LEN 8u             /* btf: offset skb_frag|bio_vec len|bv_len */
#define LINUX_SKB_FRAG_OFFSET 12u         /* btf: offset skb_frag|bio_vec offset|bv_offset */
/* struct page: the vmemmap holds one per page frame, so a struct page
 * pointer is VMEMMAP_START + pfn * sizeof(struct page). */
#define LINUX_STRUCT_PAGE_BYTES 64u       /* btf: size page */
/* struct sk_buff: skb->truesize counts it, SKB_DATA_ALIGN'ed (to 64), beside
 * the buffer (SKB_TRUESIZE, include/linux/skbuff.h; build_skb). */
#define LINUX_SK_BUFF_BYTES 224u          /* btf: size sk_buff */
#define LINUX_SKB_DATA_ALIGN(x) (((x) + 63u) & ~63u) /* SMP_CACHE_BYTES 64 */
/* page_pool's alloc cache (include/net/page_pool/types.h, struct
 * pp_alloc_cache: PP_ALLOC_CACHE_SIZE netmem pointers). */
#define LINUX_PP_ALLOC_CACHE_SIZE 128u    /* btf: dim pp_alloc_cache cache */
#define LINUX_PP_ALLOC_CACHE_REFILL 64u   /* include/net/page_pool/types.h (macro) */
/* RX headroom (macros, not in BTF): a driver that runs no XDP program and
 * builds its skbs around the buffer (build_skb) reserves NET_SKB_PAD
 * (include/linux/skbuff.h: max(32, L1_CACHE_BYTES) = 64 on x86-64, plus
 * NET_IP_ALIGN = 0 on x86: ixgbe_rx_offset/IXGBE_SKB_PAD,
 * i40e_rx_offset/I40E_SKB_PAD); with an XDP program attached it reserves
 * XDP_PACKET_HEADROOM (include/uapi/linux/bpf.h: 256; ixgbe_rx_offset,
 * i40e_rx_offset return it when the ring has an XDP program), as AF_XDP
 * chunks do (xsk_pool_get_headroom). */
#define LINUX_NET_SKB_PAD 64u
#define LINUX_XDP_PACKET_HEADROOM 256u

#endif
