using Nitro.Backends.Linux.Profile;
using Nitro.Backends.Linux.Symbols;

namespace Nitro.Backends.Linux.Tests.Profile;

/// <summary>
/// The ia32 numbers of the test guest's real kernel (Debian 6.1, which has no ia32_sys_call_table),
/// decoded from its ia32_sys_call compare tree, against the public syscall_32.tbl numbers.
/// </summary>
[Category("KernelImage")]
[CancelAfter(300_000)]
public sealed class Ia32SyscallTableTests
{
    private static KernelSymbols Symbols => KernelImage.Symbols;

    private static LinuxKernelProfile Profile => KernelImage.Profile;

    // Numbers from arch/x86/entry/syscalls/syscall_32.tbl (6.1).
    [TestCase(1, "exit", "__ia32_sys_exit")]
    [TestCase(3, "read", "__ia32_sys_read")]
    [TestCase(4, "write", "__ia32_sys_write")]
    [TestCase(5, "open", "__ia32_compat_sys_open")]
    [TestCase(6, "close", "__ia32_sys_close")]
    [TestCase(11, "execve", "__ia32_compat_sys_execve")]
    [TestCase(20, "getpid", "__ia32_sys_getpid")]
    [TestCase(90, "mmap", "__ia32_compat_sys_ia32_mmap")]
    [TestCase(102, "socketcall", "__ia32_compat_sys_socketcall")]
    [TestCase(120, "clone", "__ia32_compat_sys_ia32_clone")]
    [TestCase(180, "pread64", "__ia32_sys_ia32_pread64")]
    [TestCase(192, "mmap_pgoff", "__ia32_sys_mmap_pgoff")] // mmap2 in the table: names come from the handlers
    [TestCase(195, "stat64", "__ia32_compat_sys_ia32_stat64")]
    [TestCase(221, "fcntl64", "__ia32_compat_sys_fcntl64")]
    [TestCase(243, "set_thread_area", "__ia32_sys_set_thread_area")]
    [TestCase(252, "exit_group", "__ia32_sys_exit_group")]
    [TestCase(295, "openat", "__ia32_compat_sys_openat")]
    [TestCase(384, "arch_prctl", "__ia32_compat_sys_arch_prctl")]
    [TestCase(435, "clone3", "__ia32_sys_clone3")]
    [TestCase(450, "set_mempolicy_home_node", "__ia32_sys_set_mempolicy_home_node")]
    public void Numbers_decoded_from_ia32_sys_call_match_syscall_32_tbl(int number, string name, string handler)
    {
        Assert.That(Profile.Ia32Error, Is.Null);
        Assert.That(Profile.Ia32SysCallTable, Is.Null, "this kernel dispatches through a switch, not a table");
        Assert.That(Profile.GetIa32SyscallName(number), Is.EqualTo(name));
        Assert.That(Profile.Ia32Syscalls[number].HandlerName, Is.EqualTo(handler));
        Assert.That(Symbols.GetSymbolsAt(Profile.Ia32Syscalls[number].Handler).Select(s => s.Name), Does.Contain(handler));
    }

    [Test]
    public void Unused_numbers_reach_sys_ni_syscall_and_the_table_ends_at_NR_syscalls()
    {
        TestContext.Out.WriteLine($"{Profile.Ia32Syscalls.Count} ia32 numbers, {Profile.Ia32Syscalls.Count(s => s.IsImplemented)} implemented");
        Assert.That(Profile.Ia32Syscalls, Has.Count.EqualTo(451), "6.1's last ia32 number is 450");
        foreach (var unused in new[] { 222, 223, 251, 285, 387, 388, 389, 390, 391, 392 })
        {
            Assert.That(Profile.Ia32Syscalls[unused].IsImplemented, Is.False, unused.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.That(Profile.Ia32Syscalls[unused].Name, Is.EqualTo("ni_syscall"));
        }

        Assert.That(Profile.GetIa32SyscallName(451), Is.Null);
        Assert.That(Profile.GetIa32SyscallName(-1), Is.Null);
        Assert.That(Profile.Ia32Syscalls.Select((s, i) => s.Number == i), Is.All.True);
    }

    [Test]
    public void The_ia32_table_entry_symbols_and_TS_COMPAT_offset_survive_the_profile_cache()
    {
        var cache = Directory.CreateTempSubdirectory("nitro-ia32-cache-").FullName;
        try
        {
            var path = Profile.Save(cache);
            var loaded = LinuxKernelProfile.TryLoad(path, KernelImage.Memory);

            Assert.That(Path.GetFileName(path), Does.EndWith("-v3.json"));
            Assert.That(loaded, Is.Not.Null);
            Assert.That(loaded!.LoadedFromCache, Is.True);
            Assert.That(loaded.Ia32Syscalls, Is.EqualTo(Profile.Ia32Syscalls));
            Assert.That(loaded.Ia32Error, Is.Null);
            Assert.That(loaded.TryGetSymbol("asm_int80_emulation", out var int80), Is.True);
            Assert.That(int80, Is.EqualTo(Symbols.GetAddress("asm_int80_emulation")));

            // __do_fast_syscall_32 sets TS_COMPAT with 'or dword [current + 0x10], 2': thread_info.status.
            Assert.That(loaded.Offsets.TaskThreadInfoStatus, Is.EqualTo(0x10UL));

            // What the plugin's callback plans need (format 3): kernel page tables, stack top, active_mm.
            Assert.That(loaded.TryGetSymbol(LinuxKernelProfile.InitTopPgtName, out var pgt), Is.True);
            Assert.That(pgt, Is.EqualTo(Symbols.GetAddress("init_top_pgt")));
            Assert.That(loaded.TopOfStackPerCpuOffset, Is.EqualTo(Symbols.GetAddress("cpu_current_top_of_stack")));
            Assert.That(loaded.Offsets.TaskActiveMm, Is.EqualTo(Profile.Offsets.TaskActiveMm).And.Not.Null);
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }

    [Test]
    public void The_same_decoder_reads_x64_sys_call_as_sys_call_table_says()
    {
        // The x64 switch and the x64 table describe the same mapping: two independent readings must agree.
        var start = Symbols.GetAddress("x64_sys_call");
        var code = new byte[Symbols.NextSymbolAddress(start) - start];
        Symbols.ReadImage(start, code);
        var targets = SyscallSwitchDecoder.Decode(code, start, Iced.Intel.Register.ESI, Profile.Syscalls.Count);
        for (var number = 0; number < Profile.Syscalls.Count; number++)
        {
            Assert.That(targets[number], Is.EqualTo(Profile.Syscalls[number].Handler), Profile.Syscalls[number].Name);
        }
    }
}
