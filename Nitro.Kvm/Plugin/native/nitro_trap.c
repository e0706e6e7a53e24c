/* The Nitro trap plugin: a QEMU TCG plugin (API version 1) that calls back on the guest kernel
 * addresses of a trap plan — and nowhere else, so all other code runs at full TCG speed — and
 * hands each trap to a host listener through a shared control file (nitro_trap_protocol.h).
 *
 * Arguments (-plugin libnitro-trap.so,key=value,...):
 *   ctl=PATH      the control file to create (required); removed again when QEMU exits
 *   ram=PATH      the guest RAM file (memory-backend-file,share=on); mapped at first need, since
 *                 QEMU creates it after plugins are installed. Without it the plugin reads guest
 *                 RAM in QEMU's own address space, where the host says it is (ram_address), once
 *                 /proc/self/maps confirms that range is mapped readable
 *   hold=on|off   hold the first vCPU that reaches user mode (a low address translated after the
 *                 kernel ran in its high half) until a host has set a plan (or
 *                 hold_ms passed), so that not even the first user-mode system call is missed
 *   hold_ms=N     the longest hold (default 60000)
 *
 * Modes (chosen by the host in the control file):
 *   synchronous  the vCPU thread publishes the trap in its slot and waits (spin, then futex)
 *                until the host answers; the host may read and write guest memory meanwhile
 *   streaming    the vCPU thread copies the saved frame into its ring and goes on; a full ring
 *                makes it wait (back-pressure)
 * Either way the guest never waits on the host for longer than timeout_ms: then, or when the host
 * process is gone, the plugin counts the event as lost and stops blocking until a host attaches
 * again. */
#define _GNU_SOURCE
#include "qemu_plugin_api.h"
#include "nitro_trap_protocol.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

NITRO_PLUGIN_EXPORT int qemu_plugin_version = NITRO_QEMU_PLUGIN_API_VERSION;

#define USER_SPACE_END 0x0000800000000000ull
#define KERNEL_SPACE_START 0xffff800000000000ull
/* Below 1 MiB after the kernel runs in its high half there is only the real-mode trampoline that
 * starts secondary vCPUs; user programs are mapped higher. */
#define LOW_TRAMPOLINE_END 0x100000ull
#define PTE_PRESENT 0x1ull
#define PTE_LARGE 0x80ull
#define PTE_ADDRESS 0x000FFFFFFFFFF000ull
#define WAIT_SLICE_NS 20000000L /* host liveness is checked this often while waiting */

static qemu_plugin_id_t g_id;
static struct ntp_header *g_ctl;
static size_t g_ctl_size;
static char g_ctl_path[512];
static char g_ram_path[512];
static int g_hold;
static long g_hold_ms = 60000;
static unsigned g_max_vcpus;

/* Guest RAM, mapped lazily. */
static pthread_mutex_t g_ram_lock = PTHREAD_MUTEX_INITIALIZER;
static const uint8_t *g_ram;
static uint64_t g_ram_size;
static int g_ram_failed;
static struct ntp_ram_segment g_segments[NTP_MAX_RAM_SEGMENTS];
static uint32_t g_segment_count; /* 0: guest physical addresses are offsets in the RAM */

/* The plan the plugin instruments: an immutable private copy, swapped atomically so that the trap
 * path takes no lock. Replaced copies are kept (a few KiB per plan change) because a vCPU may still
 * be reading one. */
static pthread_mutex_t g_plan_lock = PTHREAD_MUTEX_INITIALIZER;
static const struct ntp_plan g_empty_plan;
static const struct ntp_plan *g_plan = &g_empty_plan;
static uint32_t g_applied;
static int g_hold_registered;
static int g_kernel_high; /* a vCPU has run the kernel at its final, high-half addresses */
static int g_hold_done;

static inline struct ntp_vcpu *vcpu_area(unsigned vcpu)
{
    return (struct ntp_vcpu *)((uint8_t *)g_ctl + NTP_HEADER_SIZE + (size_t)vcpu * NTP_VCPU_SIZE);
}

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static long futex_wait(uint32_t *word, uint32_t expected, long timeout_ns)
{
    struct timespec ts = { timeout_ns / 1000000000L, timeout_ns % 1000000000L };
    return syscall(SYS_futex, word, FUTEX_WAIT, expected, &ts, NULL, 0);
}

static void futex_wake(uint32_t *word)
{
    syscall(SYS_futex, word, FUTEX_WAKE, 0x7fffffff, NULL, NULL, 0);
}

/* Messages go to QEMU's standard error (a libvirt domain's log), where they are always seen:
 * qemu_plugin_outs shows them only under -d plugin. */
static void say(const char *format, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *format, ...)
{
    char line[512];
    va_list args;
    va_start(args, format);
    vsnprintf(line, sizeof line, format, args);
    va_end(args);
    fputs(line, stderr);
    fflush(stderr);
}

/* ---- guest memory ---------------------------------------------------------------------- */

/* Whether [start, start + size) of this process is mapped readable, by contiguous mappings. */
static int mapped_readable(uint64_t start, uint64_t size)
{
    FILE *maps = fopen("/proc/self/maps", "re");
    if (!maps) {
        return 0;
    }
    uint64_t covered = start, end = start + size;
    char line[512];
    while (covered < end && fgets(line, sizeof line, maps)) {
        unsigned long long from, to;
        char perms[5];
        if (sscanf(line, "%llx-%llx %4s", &from, &to, perms) != 3) {
            continue;
        }
        if (from <= covered && covered < to) {
            if (perms[0] != 'r') {
                break;
            }
            covered = to;
        }
    }
    fclose(maps);
    return covered >= end;
}

/* RAM in this process at the host's address: taken once the host has published a range that the
 * process's own mappings confirm; a range that fails is reported once and never read. */
static void take_ram_in_process(void)
{
    uint64_t size = __atomic_load_n(&g_ctl->ram_size, __ATOMIC_ACQUIRE);
    uint64_t address = __atomic_load_n(&g_ctl->ram_address, __ATOMIC_ACQUIRE);
    if (size == 0) {
        return; /* no host has said yet */
    }
    uint32_t count = __atomic_load_n(&g_ctl->ram_segment_count, __ATOMIC_ACQUIRE);
    int layout_ok = count <= NTP_MAX_RAM_SEGMENTS;
    for (uint32_t i = 0; layout_ok && i < count; i++) {
        g_segments[i] = g_ctl->ram_segments[i];
        layout_ok = g_segments[i].offset <= size && g_segments[i].length <= size - g_segments[i].offset;
    }
    if (!layout_ok) {
        __atomic_store_n(&g_ram_failed, 1, __ATOMIC_RELAXED);
        say("nitro-trap: the host's guest RAM layout (%u ranges) does not fit its 0x%" PRIx64 " bytes of RAM; frames cannot be read\n", count, size);
    } else if (address != 0 && address + size > address && mapped_readable(address, size)) {
        g_segment_count = count;
        g_ram_size = size;
        __atomic_store_n(&g_ram, (const uint8_t *)(uintptr_t)address, __ATOMIC_RELEASE);
    } else {
        __atomic_store_n(&g_ram_failed, 1, __ATOMIC_RELAXED);
        say("nitro-trap: the host placed guest RAM at 0x%" PRIx64 " (+0x%" PRIx64 "), which this QEMU does not map readable; "
            "frames cannot be read (start QEMU with a shared RAM file and ram=PATH)\n", address, size);
    }
}

static void take_ram_file(void)
{
    int fd = open(g_ram_path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        if (p != MAP_FAILED) {
            g_ram_size = (uint64_t)st.st_size;
            __atomic_store_n(&g_ram, (const uint8_t *)p, __ATOMIC_RELEASE);
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    if (!g_ram) {
        /* The file may not exist yet; a later trap tries again, but not after exit. */
        say("nitro-trap: guest RAM %s is not readable yet (%s)\n", g_ram_path, strerror(errno));
    }
}

static int map_ram(void)
{
    if (__atomic_load_n(&g_ram, __ATOMIC_ACQUIRE)) {
        return 1;
    }
    if (__atomic_load_n(&g_ram_failed, __ATOMIC_RELAXED)) {
        return 0;
    }
    pthread_mutex_lock(&g_ram_lock);
    if (!g_ram && !g_ram_failed) {
        if (g_ram_path[0]) {
            take_ram_file();
        } else {
            take_ram_in_process();
        }
    }
    pthread_mutex_unlock(&g_ram_lock);
    return g_ram != NULL;
}

static int read_physical(uint64_t physical, void *out, size_t length)
{
    uint64_t offset = physical;
    if (g_segment_count > 0) {
        uint32_t i = 0;
        while (i < g_segment_count && !(physical >= g_segments[i].guest && physical - g_segments[i].guest < g_segments[i].length)) {
            i++;
        }
        if (i == g_segment_count || length > g_segments[i].length - (physical - g_segments[i].guest)) {
            return 0; /* a hole, or across the end of a range (reads never cross a page) */
        }
        offset = g_segments[i].offset + (physical - g_segments[i].guest);
    }
    if (offset >= g_ram_size || length > g_ram_size - offset) {
        return 0;
    }
    memcpy(out, g_ram + offset, length);
    return 1;
}

/* Translates a virtual address through 4-level page tables rooted at root (physical). */
static int translate(uint64_t root, uint64_t va, uint64_t *physical)
{
    uint64_t table = root & PTE_ADDRESS;
    for (int level = 3; level >= 0; level--) {
        uint64_t index = (va >> (12 + 9 * level)) & 0x1ff;
        uint64_t entry;
        if (!read_physical(table + index * 8, &entry, 8) || !(entry & PTE_PRESENT)) {
            return 0;
        }
        if ((level == 2 || level == 1) && (entry & PTE_LARGE)) {
            uint64_t page = 1ull << (12 + 9 * level);
            *physical = (entry & PTE_ADDRESS & ~(page - 1)) | (va & (page - 1));
            return 1;
        }
        table = entry & PTE_ADDRESS;
    }
    *physical = table | (va & 0xfff);
    return 1;
}

static int read_virtual(uint64_t root, uint64_t va, void *out, size_t length)
{
    uint8_t *to = out;
    while (length > 0) {
        uint64_t physical;
        size_t chunk = 0x1000 - (va & 0xfff);
        if (chunk > length) {
            chunk = length;
        }
        if (!translate(root, va, &physical) || !read_physical(physical, to, chunk)) {
            return 0;
        }
        to += chunk;
        va += chunk;
        length -= chunk;
    }
    return 1;
}

static int follow(const struct ntp_plan *plan, uint64_t base, const struct ntp_path *path, uint64_t *result)
{
    uint64_t address = base;
    uint32_t count = path->count > NTP_MAX_PATH ? NTP_MAX_PATH : path->count;
    for (uint32_t i = 0; i < count; i++) {
        if (!read_virtual(plan->kernel_root, address + (uint64_t)path->offsets[i], &address, 8)) {
            return 0;
        }
    }
    *result = address + (uint64_t)path->final;
    return 1;
}

/* A vCPU's base (Linux: its per-cpu offset) never changes once the kernel runs, so it is read once
 * per plan; a value that cannot be read is not cached. */
static struct {
    const struct ntp_plan *plan;
    uint64_t base;
} g_vcpu_base[NTP_MAX_VCPUS];

static int vcpu_base(const struct ntp_plan *plan, unsigned vcpu, uint64_t *base)
{
    if (g_vcpu_base[vcpu].plan == plan) {
        *base = g_vcpu_base[vcpu].base;
        return 1;
    }
    if (!read_virtual(plan->kernel_root, plan->per_vcpu_table + 8ull * vcpu, base, 8)) {
        return 0;
    }
    g_vcpu_base[vcpu].base = *base;
    g_vcpu_base[vcpu].plan = plan; /* only this vCPU's thread touches its entry */
    return 1;
}

/* ---- plan ------------------------------------------------------------------------------- */

static void on_reset(qemu_plugin_id_t id);

static int same_addresses(const struct ntp_plan *a, const struct ntp_plan *b)
{
    if (a->point_count != b->point_count) {
        return 0;
    }
    for (uint32_t i = 0; i < a->point_count; i++) {
        if (a->points[i].address != b->points[i].address) {
            return 0;
        }
    }
    return 1;
}

/* Takes the host's plan if it changed; re-translates when its addresses changed. Only called on
 * vCPU threads, where qemu_plugin_reset flushes the translation cache safely. */
static void apply_plan(void)
{
    uint32_t generation = __atomic_load_n(&g_ctl->plan_generation, __ATOMIC_ACQUIRE);
    if (generation == __atomic_load_n(&g_applied, __ATOMIC_ACQUIRE) || (generation & 1)) {
        return;
    }
    pthread_mutex_lock(&g_plan_lock);
    if (generation != g_applied) {
        struct ntp_plan *copy = malloc(sizeof *copy);
        if (!copy) {
            pthread_mutex_unlock(&g_plan_lock);
            return;
        }
        memcpy(copy, (const void *)&g_ctl->plan, sizeof *copy);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&g_ctl->plan_generation, __ATOMIC_ACQUIRE) != generation) {
            free(copy); /* the host is writing a newer plan: take that one next time */
        } else {
            if (copy->point_count > NTP_MAX_POINTS) {
                copy->point_count = NTP_MAX_POINTS;
            }
            if (copy->frame_size > NTP_FRAME_MAX) {
                copy->frame_size = NTP_FRAME_MAX;
            }
            int retranslate = !same_addresses(copy, g_plan);
            __atomic_store_n(&g_plan, copy, __ATOMIC_RELEASE);
            __atomic_store_n(&g_applied, generation, __ATOMIC_RELEASE);
            __atomic_store_n(&g_ctl->applied_generation, generation, __ATOMIC_RELEASE);
            futex_wake(&g_ctl->applied_generation);
            if (retranslate) {
                __atomic_fetch_add(&g_ctl->resets, 1, __ATOMIC_RELAXED);
                qemu_plugin_reset(g_id, on_reset);
            }
        }
    }
    pthread_mutex_unlock(&g_plan_lock);
}

static const struct ntp_point *find_point(const struct ntp_plan *plan, uint64_t address)
{
    for (uint32_t i = 0; i < plan->point_count; i++) {
        if (plan->points[i].address == address) {
            return &plan->points[i];
        }
    }
    return NULL;
}

/* ---- host hand-off ---------------------------------------------------------------------- */

static int host_alive(void)
{
    uint32_t pid = __atomic_load_n(&g_ctl->host_pid, __ATOMIC_RELAXED);
    return pid != 0 && (kill((pid_t)pid, 0) == 0 || errno != ESRCH);
}

/* The host did not answer in time or is gone: stop blocking until it attaches again. */
static void give_up_on_host(struct ntp_vcpu *v)
{
    __atomic_fetch_add(&v->lost, 1, __ATOMIC_RELAXED);
    uint32_t one = 1;
    if (__atomic_compare_exchange_n(&g_ctl->attached, &one, 0, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
        __atomic_fetch_add(&g_ctl->host_lost, 1, __ATOMIC_RELAXED);
        futex_wake(&g_ctl->attached);
        say("nitro-trap: the host did not answer within %u ms or is gone; the guest runs on untraced until a host attaches\n",
            g_ctl->timeout_ms);
    }
}

/* Waits until *word != value, spinning first; returns 0 when the host was given up on. */
static int wait_for_change(struct ntp_vcpu *v, uint32_t *word, uint32_t value, uint32_t *sleeping, uint64_t *sleeps)
{
    uint32_t spin = __atomic_load_n(&g_ctl->spin, __ATOMIC_RELAXED);
    for (uint32_t i = 0; i < spin; i++) {
        if (__atomic_load_n(word, __ATOMIC_ACQUIRE) != value) {
            return 1;
        }
        __builtin_ia32_pause();
    }
    uint64_t deadline = now_ns() + (uint64_t)__atomic_load_n(&g_ctl->timeout_ms, __ATOMIC_RELAXED) * 1000000ull;
    while (__atomic_load_n(word, __ATOMIC_ACQUIRE) == value) {
        if (!__atomic_load_n(&g_ctl->attached, __ATOMIC_ACQUIRE)) {
            return 0; /* detached while we waited: nothing more will answer */
        }
        if (now_ns() >= deadline || !host_alive()) {
            give_up_on_host(v);
            return 0;
        }
        __atomic_store_n(sleeping, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(word, __ATOMIC_SEQ_CST) == value) {
            __atomic_fetch_add(sleeps, 1, __ATOMIC_RELAXED);
            futex_wait(word, value, WAIT_SLICE_NS);
        }
        __atomic_store_n(sleeping, 0, __ATOMIC_SEQ_CST);
    }
    return 1;
}

static void publish_sync(struct ntp_vcpu *v, const struct ntp_record *trap)
{
    v->address = trap->address;
    v->flags = trap->flags;
    v->kind = trap->kind;
    v->number = trap->number;
    v->timestamp = trap->timestamp;
    v->frame_va = trap->frame_va;
    v->task = trap->task;
    v->per_vcpu_base = trap->per_vcpu_base;
    uint32_t request = __atomic_load_n(&v->request, __ATOMIC_RELAXED) + 1;
    __atomic_store_n(&v->request, request, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&v->host_waiting, __ATOMIC_SEQ_CST)) {
        futex_wake(&v->request);
    }
    /* Wait for answer == request; it starts out different, so wait while it holds its old value. */
    for (;;) {
        uint32_t answer = __atomic_load_n(&v->answer, __ATOMIC_ACQUIRE);
        if (answer == request) {
            return;
        }
        if (!wait_for_change(v, &v->answer, answer, &v->cpu_waiting, &v->futex_waits)) {
            return;
        }
    }
}

static void publish_stream(struct ntp_vcpu *v, const struct ntp_record *trap, const struct ntp_plan *plan)
{
    for (;;) {
        uint32_t head = __atomic_load_n(&v->head, __ATOMIC_RELAXED);
        uint32_t tail = __atomic_load_n(&v->tail, __ATOMIC_ACQUIRE);
        if (head - tail < NTP_RING_SLOTS) {
            struct ntp_record *record = &v->ring[head % NTP_RING_SLOTS];
            memcpy(record, trap, offsetof(struct ntp_record, frame));
            if ((trap->flags & NTP_TRAP_FRAME) && plan->frame_size > 0 &&
                read_virtual(plan->kernel_root, trap->frame_va, record->frame, plan->frame_size)) {
                record->flags |= NTP_TRAP_FRAME_COPIED;
            }
            record->sequence = head;
            __atomic_store_n(&v->head, head + 1, __ATOMIC_SEQ_CST);
            if (__atomic_load_n(&v->ring_host_waiting, __ATOMIC_SEQ_CST)) {
                futex_wake(&v->head);
            }
            return;
        }
        __atomic_fetch_add(&v->ring_waits, 1, __ATOMIC_RELAXED);
        if (!wait_for_change(v, &v->tail, tail, &v->ring_cpu_waiting, &v->futex_waits)) {
            return;
        }
    }
}

static void on_trap(unsigned int vcpu, void *userdata)
{
    if (vcpu >= g_max_vcpus) {
        return;
    }
    struct ntp_vcpu *v = vcpu_area(vcpu);
    apply_plan();
    const struct ntp_plan *plan = __atomic_load_n(&g_plan, __ATOMIC_ACQUIRE);
    const struct ntp_point *point = find_point(plan, (uint64_t)(uintptr_t)userdata);
    if (!point) {
        return; /* translated under an earlier plan; re-translation is under way */
    }
    __atomic_fetch_add(&v->traps, 1, __ATOMIC_RELAXED);
    if (!__atomic_load_n(&g_ctl->attached, __ATOMIC_ACQUIRE)) {
        __atomic_fetch_add(&v->unattended, 1, __ATOMIC_RELAXED);
        return;
    }

    struct ntp_record trap;
    memset(&trap, 0, offsetof(struct ntp_record, frame));
    trap.address = point->address;
    trap.kind = point->kind;
    trap.number = ~0ull;
    int based = map_ram() && vcpu_base(plan, vcpu, &trap.per_vcpu_base);
    if (based && follow(plan, trap.per_vcpu_base, &plan->frame, &trap.frame_va)) {
        trap.flags |= NTP_TRAP_FRAME;
        uint32_t offset = point->kind == NTP_POINT_EXIT ? plan->exit_number_offset : plan->entry_number_offset;
        uint64_t number;
        if (read_virtual(plan->kernel_root, trap.frame_va + offset, &number, 8)) {
            trap.number = number & plan->number_mask;
            trap.flags |= NTP_TRAP_NUMBER;
        }
    }

    /* In-plugin filter, before anything else is read: a call whose number is known and not
     * requested costs only the frame walk and never wakes the host. */
    if (plan->filter_enabled && (trap.flags & NTP_TRAP_NUMBER)) {
        uint64_t n = trap.number;
        const uint64_t *set = g_ctl->filter[point->filter_set % NTP_FILTER_SETS];
        if (n >= NTP_FILTER_BITS || !(__atomic_load_n(&set[n >> 6], __ATOMIC_RELAXED) & (1ull << (n & 63)))) {
            __atomic_fetch_add(&v->filtered, 1, __ATOMIC_RELAXED);
            return;
        }
    }

    trap.timestamp = now_ns();
    if (based && follow(plan, trap.per_vcpu_base, &plan->task, &trap.task)) {
        trap.flags |= NTP_TRAP_TASK;
    }
    if ((trap.flags & (NTP_TRAP_FRAME | NTP_TRAP_TASK)) != (NTP_TRAP_FRAME | NTP_TRAP_TASK)) {
        __atomic_fetch_add(&g_ctl->memory_errors, 1, __ATOMIC_RELAXED);
    }

    __atomic_fetch_add(&v->forwarded, 1, __ATOMIC_RELAXED);
    if (__atomic_load_n(&g_ctl->mode, __ATOMIC_ACQUIRE) == NTP_MODE_STREAM) {
        publish_stream(v, &trap, plan);
    } else {
        publish_sync(v, &trap);
    }
}

/* The first user-mode instruction: wait here until a host has set a plan (bounded). */
static void on_hold(unsigned int vcpu, void *userdata)
{
    (void)vcpu;
    (void)userdata;
    int zero = 0;
    if (!__atomic_compare_exchange_n(&g_hold_done, &zero, 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
        return;
    }
    __atomic_store_n(&g_ctl->hold_state, NTP_HOLD_WAITING, __ATOMIC_SEQ_CST);
    futex_wake(&g_ctl->hold_state);
    uint64_t deadline = now_ns() + (uint64_t)g_hold_ms * 1000000ull;
    uint32_t state = NTP_HOLD_RELEASED;
    for (;;) {
        uint32_t generation = __atomic_load_n(&g_ctl->plan_generation, __ATOMIC_ACQUIRE);
        if (generation != 0 && !(generation & 1) && __atomic_load_n(&g_ctl->attached, __ATOMIC_ACQUIRE)) {
            break;
        }
        if (now_ns() >= deadline) {
            state = NTP_HOLD_TIMED_OUT;
            say("nitro-trap: no host set a plan within %ld ms; the guest goes on untraced\n", g_hold_ms);
            break;
        }
        futex_wait(&g_ctl->plan_generation, generation, WAIT_SLICE_NS);
    }
    apply_plan();
    __atomic_store_n(&g_ctl->hold_state, state, __ATOMIC_SEQ_CST);
    futex_wake(&g_ctl->hold_state);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t count = qemu_plugin_tb_n_insns(tb);
    if (count == 0) {
        return;
    }
    apply_plan();
    struct qemu_plugin_insn *first = qemu_plugin_tb_get_insn(tb, 0);
    uint64_t start = qemu_plugin_insn_vaddr(first);
    if (start >= KERNEL_SPACE_START) {
        __atomic_store_n(&g_kernel_high, 1, __ATOMIC_RELAXED);
    }
    /* The API tells no privilege level: before the kernel reaches its high half, low addresses are
     * the decompressor and early start-up code; afterwards they are user mode. */
    if (g_hold && __atomic_load_n(&g_kernel_high, __ATOMIC_RELAXED) && start >= LOW_TRAMPOLINE_END && start < USER_SPACE_END) {
        int zero = 0;
        if (__atomic_compare_exchange_n(&g_hold_registered, &zero, 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
            qemu_plugin_register_vcpu_insn_exec_cb(first, on_hold, QEMU_PLUGIN_CB_NO_REGS, NULL);
        }
    }
    const struct ntp_plan *plan = __atomic_load_n(&g_plan, __ATOMIC_ACQUIRE);
    if (plan->point_count == 0) {
        return;
    }
    for (size_t i = 0; i < count; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t address = qemu_plugin_insn_vaddr(insn);
        if (find_point(plan, address)) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_trap, QEMU_PLUGIN_CB_NO_REGS, (void *)(uintptr_t)address);
            __atomic_fetch_add(&g_ctl->instrumented, 1, __ATOMIC_RELAXED);
        }
    }
}

static void on_vcpu_idle_or_resume(qemu_plugin_id_t id, unsigned int vcpu)
{
    (void)id;
    (void)vcpu;
    apply_plan();
}

static void on_exit_qemu(qemu_plugin_id_t id, void *userdata)
{
    (void)id;
    (void)userdata;
    __atomic_store_n(&g_ctl->attached, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&g_ctl->state, NTP_STATE_EXITED, __ATOMIC_SEQ_CST);
    futex_wake(&g_ctl->state);
    futex_wake(&g_ctl->hold_state);
    for (unsigned v = 0; v < g_max_vcpus; v++) {
        futex_wake(&vcpu_area(v)->request);
        futex_wake(&vcpu_area(v)->head);
    }
    unlink(g_ctl_path);
}

static void register_callbacks(qemu_plugin_id_t id)
{
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_vcpu_idle_cb(id, on_vcpu_idle_or_resume);
    qemu_plugin_register_vcpu_resume_cb(id, on_vcpu_idle_or_resume);
    qemu_plugin_register_atexit_cb(id, on_exit_qemu, NULL);
}

static void on_reset(qemu_plugin_id_t id)
{
    register_callbacks(id);
}

static int parse_bool(const char *value, int *out)
{
    if (!strcmp(value, "on") || !strcmp(value, "true") || !strcmp(value, "1")) {
        *out = 1;
        return 1;
    }
    if (!strcmp(value, "off") || !strcmp(value, "false") || !strcmp(value, "0")) {
        *out = 0;
        return 1;
    }
    return 0;
}

/* A control file left by a QEMU that died (killed, so its exit callback never ran) is replaced;
 * one whose QEMU still runs is not. */
static int stale_control_file(void)
{
    int fd = open(g_ctl_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT;
    }
    struct ntp_header header;
    ssize_t got = read(fd, &header, offsetof(struct ntp_header, host_pid));
    close(fd);
    if (got != (ssize_t)offsetof(struct ntp_header, host_pid) || header.magic != NTP_MAGIC) {
        return 0; /* not ours: never remove a file we did not write */
    }
    return header.state == NTP_STATE_EXITED || header.plugin_pid == 0 ||
           (kill((pid_t)header.plugin_pid, 0) != 0 && errno == ESRCH);
}

static int create_control_file(void)
{
    int fd = open(g_ctl_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST && stale_control_file()) {
        say("nitro-trap: replacing %s, which a QEMU that is gone left behind\n", g_ctl_path);
        unlink(g_ctl_path);
        fd = open(g_ctl_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    }
    if (fd < 0) {
        say("nitro-trap: cannot create the control file %s: %s%s\n", g_ctl_path, strerror(errno),
            errno == EEXIST ? " (another QEMU uses it, or it is no control file: choose another ctl=PATH)" : "");
    }
    return fd;
}

NITRO_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    if (info->version.cur < NITRO_QEMU_PLUGIN_API_VERSION || info->version.min > NITRO_QEMU_PLUGIN_API_VERSION ||
        info->version.cur != NITRO_QEMU_PLUGIN_API_VERSION) {
        say("nitro-trap: this plugin is written for QEMU plugin API version %d; this QEMU offers %d to %d. "
            "Use QEMU 7.x, or the gdbstub listener.\n", NITRO_QEMU_PLUGIN_API_VERSION, info->version.min, info->version.cur);
        return 1;
    }
    if (!info->system_emulation || strcmp(info->target_name, "x86_64") != 0) {
        say("nitro-trap: needs qemu-system-x86_64 (this is %s%s)\n", info->target_name,
            info->system_emulation ? "" : " in user mode");
        return 1;
    }
    for (int i = 0; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        if (!eq) {
            say("nitro-trap: argument '%s' is not key=value\n", argv[i]);
            return 1;
        }
        size_t key = (size_t)(eq - argv[i]);
        const char *value = eq + 1;
        if (key == 3 && !strncmp(argv[i], "ctl", 3)) {
            snprintf(g_ctl_path, sizeof g_ctl_path, "%s", value);
        } else if (key == 3 && !strncmp(argv[i], "ram", 3)) {
            snprintf(g_ram_path, sizeof g_ram_path, "%s", value);
        } else if (key == 4 && !strncmp(argv[i], "hold", 4)) {
            if (!parse_bool(value, &g_hold)) {
                say("nitro-trap: hold=%s is not on or off\n", value);
                return 1;
            }
        } else if (key == 7 && !strncmp(argv[i], "hold_ms", 7)) {
            g_hold_ms = strtol(value, NULL, 10);
            if (g_hold_ms <= 0) {
                say("nitro-trap: hold_ms=%s is not a positive number\n", value);
                return 1;
            }
        } else {
            say("nitro-trap: unknown argument '%s'\n", argv[i]);
            return 1;
        }
    }
    if (!g_ctl_path[0]) {
        say("nitro-trap: the ctl=PATH argument (the control file) is required\n");
        return 1;
    }

    g_id = id;
    g_max_vcpus = info->system.max_vcpus > 0 ? (unsigned)info->system.max_vcpus : 1;
    if (g_max_vcpus > NTP_MAX_VCPUS) {
        say("nitro-trap: at most %d vCPUs are supported, not %u\n", NTP_MAX_VCPUS, g_max_vcpus);
        return 1;
    }
    g_ctl_size = NTP_HEADER_SIZE + (size_t)g_max_vcpus * NTP_VCPU_SIZE;
    int fd = create_control_file();
    if (fd < 0) {
        return 1;
    }
    if (ftruncate(fd, (off_t)g_ctl_size) != 0) {
        say("nitro-trap: cannot size the control file %s: %s\n", g_ctl_path, strerror(errno));
        close(fd);
        unlink(g_ctl_path);
        return 1;
    }
    void *map = mmap(NULL, g_ctl_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        say("nitro-trap: cannot map the control file %s: %s\n", g_ctl_path, strerror(errno));
        unlink(g_ctl_path);
        return 1;
    }
    g_ctl = map;
    g_ctl->version = NTP_VERSION;
    g_ctl->header_size = NTP_HEADER_SIZE;
    g_ctl->vcpu_size = NTP_VCPU_SIZE;
    g_ctl->vcpu_count = info->system.smp_vcpus > 0 ? (uint32_t)info->system.smp_vcpus : 1;
    g_ctl->max_vcpus = g_max_vcpus;
    g_ctl->plugin_pid = (uint32_t)getpid();
    g_ctl->ring_slots = NTP_RING_SLOTS;
    g_ctl->frame_max = NTP_FRAME_MAX;
    g_ctl->ram_file = g_ram_path[0] != 0;
    g_ctl->state = NTP_STATE_RUNNING;
    g_ctl->hold_state = g_hold ? NTP_HOLD_ARMED : NTP_HOLD_OFF;
    g_ctl->timeout_ms = 5000;
    g_ctl->spin = 3000;
    __atomic_store_n(&g_ctl->magic, NTP_MAGIC, __ATOMIC_RELEASE);
    register_callbacks(id);
    return 0;
}
