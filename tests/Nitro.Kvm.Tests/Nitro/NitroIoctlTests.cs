using Nitro.Kvm.Nitro;

namespace Nitro.Kvm.Tests.Nitro;

public sealed class NitroIoctlTests
{
    internal static readonly Dictionary<string, uint> Requests = new(StringComparer.Ordinal)
    {
        ["KVM_NITRO_NUM_VMS"] = NitroIoctl.NumVms,
        ["KVM_NITRO_ATTACH_VM"] = NitroIoctl.AttachVm,
        ["KVM_NITRO_ATTACH_VCPUS"] = NitroIoctl.AttachVcpus,
        ["KVM_NITRO_SET_SYSCALL_TRAP"] = NitroIoctl.SetSyscallTrap,
        ["KVM_NITRO_GET_EVENT"] = NitroIoctl.GetEvent,
        ["KVM_NITRO_CONTINUE"] = NitroIoctl.Continue,
        ["KVM_NITRO_GET_REGS"] = NitroIoctl.GetRegs,
        ["KVM_NITRO_SET_REGS"] = NitroIoctl.SetRegs,
        ["KVM_NITRO_GET_SREGS"] = NitroIoctl.GetSregs,
        ["KVM_NITRO_SET_SREGS"] = NitroIoctl.SetSregs,
        ["KVM_NITRO_ADD_SYSCALL_FILTER"] = NitroIoctl.AddSyscallFilter,
        ["KVM_NITRO_REMOVE_SYSCALL_FILTER"] = NitroIoctl.RemoveSyscallFilter,
    };

    // The "computed value" column of the ABI table in FACTS.md §1.
    [TestCase("KVM_NITRO_NUM_VMS", 0x0000AEE0u)]
    [TestCase("KVM_NITRO_ATTACH_VM", 0x4004AEE1u)]
    [TestCase("KVM_NITRO_ATTACH_VCPUS", 0x8204AEE2u)]
    [TestCase("KVM_NITRO_SET_SYSCALL_TRAP", 0x4001AEE3u)]
    [TestCase("KVM_NITRO_GET_EVENT", 0x81D8AEE5u)]
    [TestCase("KVM_NITRO_CONTINUE", 0x0000AEE6u)]
    [TestCase("KVM_NITRO_GET_REGS", 0x8090AEE7u)]
    [TestCase("KVM_NITRO_SET_REGS", 0x4090AEE8u)]
    [TestCase("KVM_NITRO_GET_SREGS", 0x8138AEE9u)]
    [TestCase("KVM_NITRO_SET_SREGS", 0x4138AEEAu)]
    [TestCase("KVM_NITRO_ADD_SYSCALL_FILTER", 0x8008AEEBu)]
    [TestCase("KVM_NITRO_REMOVE_SYSCALL_FILTER", 0x8008AEECu)]
    public void Request_number_matches_the_ABI_table(string name, uint expected)
    {
        Assert.That(Requests[name], Is.EqualTo(expected), $"{name}: 0x{Requests[name]:X8}");
    }

    [Test]
    public void IoctlNumber_encodes_direction_size_type_and_number()
    {
        Assert.Multiple(() =>
        {
            // KVM_GET_API_VERSION = _IO(KVMIO, 0x00), KVM_RUN = _IO(KVMIO, 0x80), KVM_GET_REGS = _IOR(KVMIO, 0x81, struct kvm_regs)
            Assert.That(IoctlNumber.IO(0xAE, 0x00), Is.EqualTo(0xAE00u));
            Assert.That(IoctlNumber.IO(0xAE, 0x80), Is.EqualTo(0xAE80u));
            Assert.That(IoctlNumber.IOR(0xAE, 0x81, 144), Is.EqualTo(0x8090AE81u));
            Assert.That(IoctlNumber.IOW(0xAE, 0x82, 144), Is.EqualTo(0x4090AE82u));
            Assert.That(IoctlNumber.IOWR(0x12, 0x34, 8), Is.EqualTo(0xC0081234u));
        });
    }

    [Test]
    public void IoctlNumber_rejects_sizes_that_do_not_fit_14_bits()
    {
        Assert.Multiple(() =>
        {
            Assert.That(IoctlNumber.IOR(0xAE, 1, 0x3FFF), Is.EqualTo(0xBFFFAE01u));
            Assert.That(() => IoctlNumber.IOR(0xAE, 1, 0x4000), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => IoctlNumber.IOW(0xAE, 1, -1), Throws.TypeOf<ArgumentOutOfRangeException>());
        });
    }
}
