using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Nitro.Kvm.Nitro;
using Nitro.Reactive.Events;

namespace Nitro.Kvm.Tests.Nitro;

/// <summary>
/// Compares the C# interop structs and request numbers with a C program compiled by gcc from a
/// header written from the ABI table (Native/nitro_abi.h), and, where the machine has it, with
/// the kernel's own &lt;linux/kvm.h&gt;.
/// </summary>
[NonParallelizable]
public sealed class NativeLayoutTests
{
    private static readonly (string CName, Type Type, int UnsafeSize)[] s_structs =
    [
        ("t_kvm_regs", typeof(Registers), Unsafe.SizeOf<Registers>()),
        ("t_kvm_segment", typeof(Segment), Unsafe.SizeOf<Segment>()),
        ("t_kvm_dtable", typeof(DescriptorTable), Unsafe.SizeOf<DescriptorTable>()),
        ("t_kvm_sregs", typeof(SpecialRegisters), Unsafe.SizeOf<SpecialRegisters>()),
        ("t_nitro_vcpus", typeof(NitroVcpus), Unsafe.SizeOf<NitroVcpus>()),
        ("t_event", typeof(NitroEventStruct), Unsafe.SizeOf<NitroEventStruct>()),
    ];

    private NativeLayoutProgram? _program;
    private Dictionary<string, string> _facts = [];

    public static IEnumerable<string> StructNames => s_structs.Select(s => s.CName);

    [OneTimeSetUp]
    public void BuildProgram()
    {
        var gcc = NativeLayoutProgram.FindGcc();
        if (gcc is null)
        {
            Assert.Ignore("gcc not found on PATH: the native layout comparison compiles a C program (install gcc to run it).");
        }

        _program = NativeLayoutProgram.Build(gcc);
        _facts = _program.Facts();
    }

    [OneTimeTearDown]
    public void DeleteProgram() => _program?.Dispose();

    [TestCaseSource(nameof(StructNames))]
    public void Struct_size_matches_C(string cName)
    {
        var (_, type, unsafeSize) = s_structs.Single(s => string.Equals(s.CName, cName, StringComparison.Ordinal));
        var cSize = Number($"size {cName}");

        Assert.Multiple(() =>
        {
            Assert.That(Marshal.SizeOf(type), Is.EqualTo(cSize), "Marshal.SizeOf");
            Assert.That(unsafeSize, Is.EqualTo(cSize), "Unsafe.SizeOf");
        });
    }

    [TestCaseSource(nameof(StructNames))]
    public void Every_field_offset_matches_C_and_every_CSharp_field_is_checked(string cName)
    {
        var (_, type, _) = s_structs.Single(s => string.Equals(s.CName, cName, StringComparison.Ordinal));
        var prefix = $"offset {cName}.";
        var cFields = _facts.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).Select(k => k[prefix.Length..]).ToList();
        var csharpFields = type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic).Select(f => f.Name).ToList();

        Assert.That(cFields, Is.Not.Empty, $"the C program printed no offsets for {cName}");
        Assert.Multiple(() =>
        {
            Assert.That(csharpFields, Is.EquivalentTo(cFields.Select(PascalCase)), "the C# struct has exactly the C fields");
            foreach (var field in cFields)
            {
                Assert.That(
                    (int)Marshal.OffsetOf(type, PascalCase(field)),
                    Is.EqualTo(Number(prefix + field)),
                    $"{cName}.{field}");
            }
        });
    }

    [Test]
    public void Managed_offsets_of_the_event_and_vcpus_match_C()
    {
        // Blittable structs are passed to ioctl by pointer, so the managed layout is what the kernel sees.
        var @event = default(NitroEventStruct);
        var vcpus = default(NitroVcpus);
        ref var eventStart = ref Unsafe.As<NitroEventStruct, byte>(ref @event);
        ref var vcpusStart = ref Unsafe.As<NitroVcpus, byte>(ref vcpus);
        var direction = (int)Unsafe.ByteOffset(ref eventStart, ref Unsafe.As<SyscallDirection, byte>(ref @event.Direction));
        var type = (int)Unsafe.ByteOffset(ref eventStart, ref Unsafe.As<SyscallMechanism, byte>(ref @event.Type));
        var regs = (int)Unsafe.ByteOffset(ref eventStart, ref Unsafe.As<Registers, byte>(ref @event.Regs));
        var sregs = (int)Unsafe.ByteOffset(ref eventStart, ref Unsafe.As<SpecialRegisters, byte>(ref @event.Sregs));
        var ids = (int)Unsafe.ByteOffset(ref vcpusStart, ref Unsafe.As<int, byte>(ref vcpus.Ids[0]));
        var fds = (int)Unsafe.ByteOffset(ref vcpusStart, ref Unsafe.As<int, byte>(ref vcpus.Fds[0]));
        var lastFd = (int)Unsafe.ByteOffset(ref vcpusStart, ref Unsafe.As<int, byte>(ref vcpus.Fds[NitroVcpus.MaxVcpus - 1]));

        Assert.Multiple(() =>
        {
            Assert.That(direction, Is.EqualTo(Number("offset t_event.direction")));
            Assert.That(type, Is.EqualTo(Number("offset t_event.type")));
            Assert.That(regs, Is.EqualTo(Number("offset t_event.regs")));
            Assert.That(sregs, Is.EqualTo(Number("offset t_event.sregs")));
            Assert.That(ids, Is.EqualTo(Number("offset t_nitro_vcpus.ids")));
            Assert.That(fds, Is.EqualTo(Number("offset t_nitro_vcpus.fds")));
            Assert.That(lastFd + sizeof(int), Is.EqualTo(Number("size t_nitro_vcpus")), "the last fd ends the struct");
            Assert.That(Number("size bool"), Is.EqualTo(sizeof(byte)), "C bool is one byte, held as a byte");
            Assert.That(Number("size enum"), Is.EqualTo(sizeof(SyscallDirection)), "C enums are ints");
        });
    }

    [TestCase("KVM_NITRO_NUM_VMS")]
    [TestCase("KVM_NITRO_ATTACH_VM")]
    [TestCase("KVM_NITRO_ATTACH_VCPUS")]
    [TestCase("KVM_NITRO_SET_SYSCALL_TRAP")]
    [TestCase("KVM_NITRO_GET_EVENT")]
    [TestCase("KVM_NITRO_CONTINUE")]
    [TestCase("KVM_NITRO_GET_REGS")]
    [TestCase("KVM_NITRO_SET_REGS")]
    [TestCase("KVM_NITRO_GET_SREGS")]
    [TestCase("KVM_NITRO_SET_SREGS")]
    [TestCase("KVM_NITRO_ADD_SYSCALL_FILTER")]
    [TestCase("KVM_NITRO_REMOVE_SYSCALL_FILTER")]
    public void Request_number_matches_the_C_ioctl_macros(string name)
    {
        Assert.That(NitroIoctlTests.Requests[name], Is.EqualTo(uint.Parse(_facts[$"request {name}"], CultureInfo.InvariantCulture)));
    }

    [Test]
    public void Request_numbers_come_from_the_kernel_ioctl_macros()
    {
        // Fails loudly if the fallback encoding in nitro_layout.c was used on a machine with kernel headers.
        Assert.That(_facts["ioctl-macros"], Is.EqualTo(File.Exists("/usr/include/linux/ioctl.h") ? "kernel" : "fallback"));
    }

    [Test]
    public void Hand_written_kvm_structs_match_the_kernel_header()
    {
        var kernel = _facts.Where(f => f.Key.StartsWith("kernel-", StringComparison.Ordinal)).ToList();
        if (kernel.Count == 0)
        {
            Assert.Ignore("<linux/kvm.h> is not installed: only our own reading of the ABI table was checked.");
        }

        Assert.Multiple(() =>
        {
            Assert.That(kernel.Count(f => f.Key.StartsWith("kernel-offset ", StringComparison.Ordinal)), Is.EqualTo(18 + 13 + 2 + 18));
            Assert.That(Number("kernel-kvmio"), Is.EqualTo(NitroIoctl.KvmIo));
            foreach (var (key, value) in kernel)
            {
                if (string.Equals(key, "kernel-kvmio", StringComparison.Ordinal))
                {
                    continue;
                }

                var ours = key.Replace("kernel-size ", "size t_", StringComparison.Ordinal).Replace("kernel-offset ", "offset t_", StringComparison.Ordinal);
                Assert.That(_facts[ours], Is.EqualTo(value), key);
            }
        });
    }

    [Test]
    public void Event_bytes_written_by_C_read_back_field_by_field()
    {
        var bytes = _program!.Sample("event");
        var @event = MemoryMarshal.Read<NitroEventStruct>(bytes);

        Assert.Multiple(() =>
        {
            Assert.That(bytes, Has.Length.EqualTo(NitroEventStruct.Size));
            Assert.That(@event.IsPresent, Is.True);
            Assert.That(@event.Direction, Is.EqualTo(SyscallDirection.Exit));
            Assert.That(@event.Type, Is.EqualTo(SyscallMechanism.Syscall));
            Assert.That(@event.Regs.Rax, Is.EqualTo(0xfffffffffffffffeUL));
            Assert.That(@event.Regs.Rdi, Is.EqualTo(0x1122334455667788UL));
            Assert.That(@event.Regs.R10, Is.EqualTo(0x10UL));
            Assert.That(@event.Regs.Rip, Is.EqualTo(0xffffffff81c00080UL));
            Assert.That(@event.Regs.Rflags, Is.EqualTo(0x246UL));
            Assert.That(@event.Sregs.Cs.Selector, Is.EqualTo(0x33));
            Assert.That(@event.Sregs.Cs.Dpl, Is.EqualTo(3));
            Assert.That(@event.Sregs.Cs.L, Is.EqualTo(1));
            Assert.That(@event.Sregs.Gs.Base, Is.EqualTo(0xffff888007c00000UL));
            Assert.That(@event.Sregs.Gdt.Limit, Is.EqualTo(0x7f));
            Assert.That(@event.Sregs.Idt.Base, Is.EqualTo(0xfffffe0000000000UL));
            Assert.That(@event.Sregs.Cr3, Is.EqualTo(0x1234f000UL));
            Assert.That(@event.Sregs.Efer, Is.EqualTo(0xd01UL));
            Assert.That(@event.Sregs.ApicBase, Is.EqualTo(0xfee00900UL));
            Assert.That(@event.Sregs.InterruptBitmap[3], Is.EqualTo(0x8000000000000001UL));
            Assert.That(@event.Sregs.InterruptBitmap[0], Is.Zero);
        });

        var written = new byte[NitroEventStruct.Size];
        MemoryMarshal.Write(written, in @event);
        Assert.That(written, Is.EqualTo(bytes), "writing the struct back gives the C bytes");
    }

    [Test]
    public void Vcpus_bytes_written_by_C_read_back_field_by_field()
    {
        var bytes = _program!.Sample("vcpus");
        var vcpus = MemoryMarshal.Read<NitroVcpus>(bytes);

        Assert.Multiple(() =>
        {
            Assert.That(bytes, Has.Length.EqualTo(NitroVcpus.Size));
            Assert.That(vcpus.NumVcpus, Is.EqualTo(2));
            Assert.That(vcpus.Ids[1], Is.EqualTo(1));
            Assert.That(vcpus.Fds[0], Is.EqualTo(11));
            Assert.That(vcpus.Fds[1], Is.EqualTo(12));
            Assert.That(vcpus.Fds[NitroVcpus.MaxVcpus - 1], Is.EqualTo(-1));
        });
    }

    private static string PascalCase(string cName)
    {
        var builder = new StringBuilder(cName.Length);
        var upper = true;
        foreach (var c in cName)
        {
            if (c == '_')
            {
                upper = true;
                continue;
            }

            builder.Append(upper ? char.ToUpperInvariant(c) : c);
            upper = false;
        }

        return builder.ToString();
    }

    private int Number(string key) =>
        _facts.TryGetValue(key, out var value)
            ? int.Parse(value, CultureInfo.InvariantCulture)
            : throw new KeyNotFoundException($"The C program printed no '{key}'.");
}
