/* The control file shared by the Nitro trap plugin (inside QEMU) and the host listener
 * (Nitro.Kvm's PluginListener). Version 2. Every field has a fixed size and offset; the C# side
 * mirrors them (Nitro.Kvm/Plugin/PluginProtocol.cs) and a test compares both with gcc's offsetof.
 *
 * Layout: one ntp_header (NTP_HEADER_SIZE bytes), then one ntp_vcpu per possible vCPU
 * (NTP_VCPU_SIZE bytes each). The plugin creates the file at install (replacing one a dead QEMU
 * left behind) and removes it at exit.
 *
 * Ownership: the plugin writes the identity, counters, slots and ring heads; the host writes the
 * control words, the plan, the filter bitmap, acknowledgements and ring tails. Words marked
 * "futex" are waited on with FUTEX_WAIT by the other side. */
#ifndef NITRO_TRAP_PROTOCOL_H
#define NITRO_TRAP_PROTOCOL_H

#include <stdint.h>

#define NTP_MAGIC 0x5052544Eu /* "NTRP" */
#define NTP_VERSION 2u
#define NTP_MAX_VCPUS 64
#define NTP_MAX_POINTS 64
#define NTP_MAX_PATH 4
#define NTP_FILTER_BITS 8192 /* per set */
#define NTP_FILTER_SETS 2     /* 0: native calls, 1: compat (32-bit) calls of a 64-bit kernel */
#define NTP_RING_SLOTS 256
#define NTP_FRAME_MAX 512
#define NTP_HEADER_SIZE 8192
#define NTP_VCPU_SIZE (256 + NTP_RING_SLOTS * 576)
#define NTP_MAX_RAM_SEGMENTS 8

enum ntp_mode { NTP_MODE_SYNC = 1, NTP_MODE_STREAM = 2 };
enum ntp_point_kind { NTP_POINT_ENTRY = 1, NTP_POINT_EXIT = 2 };
enum ntp_hold_state { NTP_HOLD_OFF = 0, NTP_HOLD_ARMED = 1, NTP_HOLD_WAITING = 2, NTP_HOLD_RELEASED = 3, NTP_HOLD_TIMED_OUT = 4 };
enum ntp_plugin_state { NTP_STATE_RUNNING = 1, NTP_STATE_EXITED = 2 };
enum ntp_trap_flags { NTP_TRAP_FRAME = 1, NTP_TRAP_TASK = 2, NTP_TRAP_NUMBER = 4, NTP_TRAP_FRAME_COPIED = 8 };

/* A pointer chase through guest kernel memory: start at a base, and for each offset read the
 * 64-bit value at (address + offset); the result is the last address plus final. */
struct ntp_path {
    int64_t offsets[NTP_MAX_PATH];
    uint32_t count;
    uint32_t reserved;
    int64_t final;
};

struct ntp_point {
    uint64_t address;
    uint32_t kind;
    uint32_t filter_set;          /* which bitmap of ntp_header.filter selects this point's calls */
};

struct ntp_plan {
    uint32_t point_count;
    uint32_t filter_enabled;      /* forward only calls whose number is set in ntp_header.filter */
    uint64_t kernel_root;         /* physical address of the top-level page table for kernel addresses */
    uint64_t per_vcpu_table;      /* kernel virtual address of a u64 per vCPU: its base (Linux __per_cpu_offset) */
    uint32_t entry_number_offset; /* where the call number is in the frame on entry */
    uint32_t exit_number_offset;  /* ... and on exit */
    uint64_t number_mask;
    uint32_t frame_size;          /* bytes of the frame copied into a streaming record */
    uint32_t reserved;
    struct ntp_path frame;        /* from the per-vCPU base to the saved user frame */
    struct ntp_path task;         /* from the per-vCPU base to the current task / thread */
    struct ntp_point points[NTP_MAX_POINTS];
};

/* A range of guest physical addresses in QEMU's RAM block: a PC guest with RAM above the 32-bit
 * PCI hole has it at 4 GiB, right after the low part in the block. */
struct ntp_ram_segment {
    uint64_t guest;
    uint64_t length;
    uint64_t offset;
};

struct ntp_header {
    /* identity: written by the plugin at install */
    uint32_t magic;
    uint32_t version;
    uint32_t header_size;
    uint32_t vcpu_size;
    uint32_t vcpu_count;
    uint32_t max_vcpus;
    uint32_t plugin_pid;
    uint32_t ring_slots;
    uint32_t frame_max;
    uint32_t state;               /* futex: ntp_plugin_state */
    uint32_t hold_state;          /* futex: ntp_hold_state */
    uint32_t ram_file;            /* 1 when started with ram=PATH, else the host must give ram_address */
    /* control: written by the host */
    uint32_t host_pid;
    uint32_t attached;            /* futex: 1 while a host answers; the plugin clears it when the host is lost */
    uint32_t mode;                /* ntp_mode */
    uint32_t timeout_ms;          /* longest wait for the host before the plugin gives up on it */
    uint32_t spin;                /* iterations to spin before sleeping on a futex */
    uint32_t plan_generation;     /* futex: seqlock, odd while the host writes the plan */
    uint32_t applied_generation;  /* the plan generation the plugin instruments (plugin) */
    uint32_t attach_epoch;        /* bumped by the host at every attach */
    /* global counters: written by the plugin */
    uint64_t resets;              /* re-translations requested (qemu_plugin_reset) */
    uint64_t host_lost;           /* times the plugin stopped waiting for a host (timeout, host gone) */
    uint64_t memory_errors;       /* frames or tasks that could not be read from guest RAM */
    uint64_t instrumented;        /* instructions given an exec callback */
    /* guest RAM in QEMU's own address space: written by the host before it attaches, for a plugin
     * started without ram= (RAM that is no shared file, as libvirt gives by default); the plugin
     * checks the range against /proc/self/maps before it reads there */
    uint64_t ram_address;
    uint64_t ram_size;
    uint64_t reserved1[2];
    /* plan: written by the host under plan_generation */
    struct ntp_plan plan;
    /* requested call numbers: written by the host, read live by the plugin */
    uint64_t filter[NTP_FILTER_SETS][NTP_FILTER_BITS / 64];
    /* guest RAM layout for ram_address (none: guest addresses are offsets in the block); written by
     * the host before ram_size */
    uint32_t ram_segment_count;
    uint32_t reserved2;
    struct ntp_ram_segment ram_segments[NTP_MAX_RAM_SEGMENTS];
};

struct ntp_record {
    uint64_t sequence;
    uint64_t address;
    uint32_t flags;
    uint32_t kind;
    uint64_t number;
    uint64_t timestamp;
    uint64_t frame_va;
    uint64_t task;
    uint64_t per_vcpu_base;
    uint8_t frame[NTP_FRAME_MAX];
};

struct ntp_vcpu {
    /* synchronous slot, cache line 0: the plugin publishes, the host answers */
    uint32_t request;             /* futex: bumped by the plugin per published trap */
    uint32_t answer;              /* futex: set to request by the host to release the vCPU */
    uint32_t host_waiting;
    uint32_t cpu_waiting;
    uint64_t address;
    uint32_t flags;
    uint32_t kind;
    uint64_t number;
    uint64_t timestamp;
    uint64_t frame_va;
    uint64_t task;
    /* counters, cache lines 1-2: written by the plugin */
    uint64_t per_vcpu_base;
    uint64_t traps;
    uint64_t forwarded;
    uint64_t filtered;
    uint64_t lost;
    uint64_t futex_waits;
    uint64_t ring_waits;
    uint64_t unattended;
    uint64_t reserved[8];
    /* ring indices, cache line 3 */
    uint32_t head;                /* futex: written by the plugin */
    uint32_t tail;                /* futex: written by the host */
    uint32_t ring_host_waiting;
    uint32_t ring_cpu_waiting;
    uint8_t pad[48];
    struct ntp_record ring[NTP_RING_SLOTS];
};

_Static_assert(sizeof(struct ntp_header) <= NTP_HEADER_SIZE, "header too large");
_Static_assert(sizeof(struct ntp_record) == 576, "record size");
_Static_assert(sizeof(struct ntp_vcpu) == NTP_VCPU_SIZE, "vcpu size");

#endif
