/*
 * Prints the layout of the Nitro ABI structs from nitro_abi.h and the KVM_NITRO_* request
 * numbers, one fact per line: "size <struct> <n>", "offset <struct>.<field> <n>",
 * "request <NAME> <n>", "kernel-size <struct> <n>", "kernel-offset <struct>.<field> <n>",
 * "kernel-kvmio <n>", "ioctl-macros <kernel|fallback>". Numbers are decimal. The kernel-* lines
 * come from <linux/kvm.h> when the machine has it.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "nitro_abi.h"

#if defined(__has_include)
#  if __has_include(<linux/ioctl.h>)
#    include <linux/ioctl.h>
#    define IOCTL_MACROS "kernel"
#  endif
#  if __has_include(<linux/kvm.h>)
#    include <linux/kvm.h>
#    define HAVE_LINUX_KVM 1
#  endif
#endif

#ifndef IOCTL_MACROS
#  define IOCTL_MACROS "fallback"
#  define _IOC(dir, type, nr, size) (((dir) << 30) | ((size) << 16) | ((type) << 8) | (nr))
#  define _IO(type, nr) _IOC(0U, (type), (nr), 0U)
#  define _IOW(type, nr, argtype) _IOC(1U, (type), (nr), sizeof(argtype))
#  define _IOR(type, nr, argtype) _IOC(2U, (type), (nr), sizeof(argtype))
#endif

#define SIZE(s) printf("size %s %zu\n", #s, sizeof(struct s));
#define OFFSET(s, f) printf("offset %s.%s %zu\n", #s, #f, offsetof(struct s, f));
#define KERNEL_SIZE(s) printf("kernel-size %s %zu\n", #s, sizeof(struct s));
#define KERNEL_OFFSET(s, f) printf("kernel-offset %s.%s %zu\n", #s, #f, offsetof(struct s, f));
#define REQUEST(name, value) printf("request %s %lu\n", #name, (unsigned long)(value));

/* Field lists, shared by our structs (t_ prefix) and the kernel's. */
#define KVM_REGS_FIELDS(X, T) \
    X(T, rax) X(T, rbx) X(T, rcx) X(T, rdx) X(T, rsi) X(T, rdi) X(T, rsp) X(T, rbp) \
    X(T, r8) X(T, r9) X(T, r10) X(T, r11) X(T, r12) X(T, r13) X(T, r14) X(T, r15) \
    X(T, rip) X(T, rflags)
#define KVM_SEGMENT_FIELDS(X, T) \
    X(T, base) X(T, limit) X(T, selector) X(T, type) X(T, present) X(T, dpl) X(T, db) \
    X(T, s) X(T, l) X(T, g) X(T, avl) X(T, unusable) X(T, padding)
#define KVM_DTABLE_FIELDS(X, T) X(T, base) X(T, limit)
#define KVM_SREGS_FIELDS(X, T) \
    X(T, cs) X(T, ds) X(T, es) X(T, fs) X(T, gs) X(T, ss) X(T, tr) X(T, ldt) X(T, gdt) X(T, idt) \
    X(T, cr0) X(T, cr2) X(T, cr3) X(T, cr4) X(T, cr8) X(T, efer) X(T, apic_base) X(T, interrupt_bitmap)

static void kvm(void)
{
    SIZE(t_kvm_regs) KVM_REGS_FIELDS(OFFSET, t_kvm_regs)
    SIZE(t_kvm_segment) KVM_SEGMENT_FIELDS(OFFSET, t_kvm_segment)
    SIZE(t_kvm_dtable) KVM_DTABLE_FIELDS(OFFSET, t_kvm_dtable)
    printf("offset t_kvm_dtable.padding0 %zu\n", offsetof(struct t_kvm_dtable, padding[0]));
    printf("offset t_kvm_dtable.padding1 %zu\n", offsetof(struct t_kvm_dtable, padding[1]));
    printf("offset t_kvm_dtable.padding2 %zu\n", offsetof(struct t_kvm_dtable, padding[2]));
    SIZE(t_kvm_sregs) KVM_SREGS_FIELDS(OFFSET, t_kvm_sregs)
}

static void nitro(void)
{
    SIZE(t_nitro_vcpus) OFFSET(t_nitro_vcpus, num_vcpus) OFFSET(t_nitro_vcpus, ids) OFFSET(t_nitro_vcpus, fds)
    SIZE(t_event) OFFSET(t_event, present) OFFSET(t_event, direction) OFFSET(t_event, type)
    OFFSET(t_event, regs) OFFSET(t_event, sregs)
    printf("size bool %zu\n", sizeof(bool));
    printf("size enum %zu\n", sizeof(enum t_direction));
}

static void requests(void)
{
    printf("ioctl-macros %s\n", IOCTL_MACROS);
    REQUEST(KVM_NITRO_NUM_VMS, _IO(T_KVMIO, 0xE0))
    REQUEST(KVM_NITRO_ATTACH_VM, _IOW(T_KVMIO, 0xE1, pid_t))
    REQUEST(KVM_NITRO_ATTACH_VCPUS, _IOR(T_KVMIO, 0xE2, struct t_nitro_vcpus))
    REQUEST(KVM_NITRO_SET_SYSCALL_TRAP, _IOW(T_KVMIO, 0xE3, bool))
    REQUEST(KVM_NITRO_GET_EVENT, _IOR(T_KVMIO, 0xE5, struct t_event))
    REQUEST(KVM_NITRO_CONTINUE, _IO(T_KVMIO, 0xE6))
    REQUEST(KVM_NITRO_GET_REGS, _IOR(T_KVMIO, 0xE7, struct t_kvm_regs))
    REQUEST(KVM_NITRO_SET_REGS, _IOW(T_KVMIO, 0xE8, struct t_kvm_regs))
    REQUEST(KVM_NITRO_GET_SREGS, _IOR(T_KVMIO, 0xE9, struct t_kvm_sregs))
    REQUEST(KVM_NITRO_SET_SREGS, _IOW(T_KVMIO, 0xEA, struct t_kvm_sregs))
    REQUEST(KVM_NITRO_ADD_SYSCALL_FILTER, _IOR(T_KVMIO, 0xEB, uint64_t))
    REQUEST(KVM_NITRO_REMOVE_SYSCALL_FILTER, _IOR(T_KVMIO, 0xEC, uint64_t))
}

static void kernel(void)
{
#ifdef HAVE_LINUX_KVM
    KERNEL_SIZE(kvm_regs) KVM_REGS_FIELDS(KERNEL_OFFSET, kvm_regs)
    KERNEL_SIZE(kvm_segment) KVM_SEGMENT_FIELDS(KERNEL_OFFSET, kvm_segment)
    KERNEL_SIZE(kvm_dtable) KVM_DTABLE_FIELDS(KERNEL_OFFSET, kvm_dtable)
    KERNEL_SIZE(kvm_sregs) KVM_SREGS_FIELDS(KERNEL_OFFSET, kvm_sregs)
    printf("kernel-kvmio %d\n", KVMIO);
#endif
}

static void hex(const void *data, size_t size)
{
    const unsigned char *bytes = data;
    for (size_t i = 0; i < size; i++) {
        printf("%02x", bytes[i]);
    }
    printf("\n");
}

/* "sample event" / "sample vcpus": the bytes of a filled struct, as hex, to read back in C#. */
static int sample(const char *what)
{
    if (strcmp(what, "event") == 0) {
        struct t_event e;
        memset(&e, 0, sizeof e);
        e.present = true;
        e.direction = T_EXIT;
        e.type = T_SYSCALL;
        e.regs.rax = 0xfffffffffffffffeULL;
        e.regs.rdi = 0x1122334455667788ULL;
        e.regs.r10 = 0x10;
        e.regs.rip = 0xffffffff81c00080ULL;
        e.regs.rflags = 0x246;
        e.sregs.cs.selector = 0x33;
        e.sregs.cs.dpl = 3;
        e.sregs.cs.l = 1;
        e.sregs.gs.base = 0xffff888007c00000ULL;
        e.sregs.gdt.limit = 0x7f;
        e.sregs.idt.base = 0xfffffe0000000000ULL;
        e.sregs.cr3 = 0x1234f000ULL;
        e.sregs.efer = 0xd01;
        e.sregs.apic_base = 0xfee00900ULL;
        e.sregs.interrupt_bitmap[3] = 0x8000000000000001ULL;
        hex(&e, sizeof e);
        return 0;
    }
    if (strcmp(what, "vcpus") == 0) {
        struct t_nitro_vcpus v;
        memset(&v, 0, sizeof v);
        v.num_vcpus = 2;
        v.ids[0] = 0;
        v.ids[1] = 1;
        v.fds[0] = 11;
        v.fds[1] = 12;
        v.fds[T_NITRO_MAX_VCPUS - 1] = -1;
        hex(&v, sizeof v);
        return 0;
    }
    fprintf(stderr, "unknown sample %s\n", what);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "sample") == 0) {
        return sample(argv[2]);
    }

    kvm();
    nitro();
    requests();
    kernel();
    return 0;
}
