/*
 * The Nitro KVM ABI as read from FACTS.md section 1, written out by hand (no <linux/kvm.h>)
 * so that the C# interop structs are checked against our own reading of the table.
 * Type names carry a "t_" prefix so that this header can sit next to <linux/kvm.h>.
 */
#ifndef NITRO_ABI_H
#define NITRO_ABI_H

#include <stdbool.h>
#include <stdint.h>

#define T_KVMIO 0xAE
#define T_NITRO_MAX_VCPUS 64

struct t_nitro_vcpus {
    int num_vcpus;
    int ids[T_NITRO_MAX_VCPUS];
    int fds[T_NITRO_MAX_VCPUS];
};

struct t_kvm_regs {
    uint64_t rax, rbx, rcx, rdx;
    uint64_t rsi, rdi, rsp, rbp;
    uint64_t r8, r9, r10, r11;
    uint64_t r12, r13, r14, r15;
    uint64_t rip, rflags;
};

struct t_kvm_segment {
    uint64_t base;
    uint32_t limit;
    uint16_t selector;
    uint8_t type;
    uint8_t present, dpl, db, s, l, g, avl;
    uint8_t unusable;
    uint8_t padding;
};

struct t_kvm_dtable {
    uint64_t base;
    uint16_t limit;
    uint16_t padding[3];
};

struct t_kvm_sregs {
    struct t_kvm_segment cs, ds, es, fs, gs, ss;
    struct t_kvm_segment tr, ldt;
    struct t_kvm_dtable gdt, idt;
    uint64_t cr0, cr2, cr3, cr4, cr8;
    uint64_t efer;
    uint64_t apic_base;
    uint64_t interrupt_bitmap[4];
};

enum t_direction { T_ENTER = 0, T_EXIT = 1 };
enum t_type { T_SYSENTER = 0, T_SYSCALL = 1 };

struct t_event {
    bool present;
    enum t_direction direction;
    enum t_type type;
    struct t_kvm_regs regs;
    struct t_kvm_sregs sregs;
};

#endif
