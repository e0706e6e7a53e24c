using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Nitro.Backends.Linux.Btf;
using Nitro.Backends.Linux.Profile;
using Nitro.Backends.Linux.Symbols;
using Nitro.Kvm.Qemu;
using Nitro.Reactive.Memory;
using Nitro.Tests.Shared;

namespace Nitro.Backends.Linux.Tests.Profile;

[Category("Integration")]
[CancelAfter(240_000)]
public sealed partial class LiveGuestProfileTests
{
    private const string Workload =
        "grep -E ' (_text|entry_SYSCALL_64|sys_call_table|init_task|entry_SYSRETQ_unsafe_stack|current_task|linux_banner|__per_cpu_offset)$' /proc/kallsyms; " +
        "echo KALLSYMS-LISTED; sleep 60";

    [Test]
    public async Task Symbols_types_and_syscall_table_match_the_guests_own_view_with_KASLR(CancellationToken cancellationToken)
    {
        var (kernel, initrd) = TestGuest.Default;
        var machine = await QemuMachine.StartAsync(
            new QemuOptions { Kernel = kernel, Initrd = initrd, Append = $"quiet panic=-1 nitro.workload=\"{Workload}\"" },
            cancellationToken);
        var cache = Directory.CreateTempSubdirectory("nitro-live-profile-").FullName;
        try
        {
            await machine.WaitForConsoleAsync("KALLSYMS-LISTED", TimeSpan.FromSeconds(180), cancellationToken);
            var guestView = ReadGuestKallsyms(machine);
            Assert.That(guestView.Keys, Is.SupersetOf(new[] { "_text", "entry_SYSCALL_64", "sys_call_table", "init_task", "entry_SYSRETQ_unsafe_stack", "current_task" }));

            await machine.Qmp.StopAsync(cancellationToken);
            using var memory = machine.OpenMemory();

            var clock = Stopwatch.StartNew();
            var symbols = KernelSymbols.Locate(memory, cancellationToken);
            var located = clock.Elapsed;
            var types = BtfTypes.Read(symbols);
            var profile = LinuxKernelProfile.Build(symbols, types);
            var built = clock.Elapsed;
            TestContext.Out.WriteLine(
                $"Locate {located.TotalMilliseconds:0} ms, + BTF + profile {built.TotalMilliseconds:0} ms; {symbols.Count} symbols ({symbols.Layout}), " +
                $"{types.Count} BTF types, {profile.Syscalls.Count} syscalls; _text 0x{symbols.ImageStart:x}, delta 0x{symbols.ImageDelta:x}");

            foreach (var (name, address) in guestView)
            {
                Assert.That(symbols.GetAddress(name), Is.EqualTo(address), name);
            }

            AssertSyscalls(profile);
            AssertOffsets(profile.Offsets);
            Assert.That(symbols.ReadImageString(profile.InitTask + profile.Offsets.TaskComm, profile.Offsets.TaskCommLength), Is.EqualTo("swapper/0"));
            Assert.That(profile.Banner, Does.StartWith("Linux version 6.1"));

            profile.Save(cache);
            clock.Restart();
            var loaded = LinuxKernelProfile.LoadOrBuild(memory, cache, cancellationToken);
            TestContext.Out.WriteLine($"LoadOrBuild from the cache: {clock.Elapsed.TotalMilliseconds:0} ms");
            Assert.That(loaded.LoadedFromCache, Is.True, "the cached profile matches the guest it was built from");
            Assert.That(loaded.KernelBase, Is.EqualTo(profile.KernelBase));
            Assert.That(loaded.ImageDelta, Is.EqualTo(profile.ImageDelta));
            Assert.That(loaded.Syscalls[257], Is.EqualTo(profile.Syscalls[257]));

            await PrintCurrentTaskAsync(machine, memory, symbols, profile, cancellationToken);
            await machine.Qmp.ContinueAsync(cancellationToken);
        }
        finally
        {
            await machine.DisposeAsync();
            Directory.Delete(cache, recursive: true);
        }
    }

    [Test]
    public async Task Profile_cached_in_one_boot_is_reused_in_the_next_boot_with_another_KASLR_slide(CancellationToken cancellationToken)
    {
        var cache = Directory.CreateTempSubdirectory("nitro-live-cache-").FullName;
        try
        {
            ulong firstBase;
            var first = await BootAsync(cancellationToken);
            try
            {
                await first.Qmp.StopAsync(cancellationToken);
                using var memory = first.OpenMemory();
                var built = LinuxKernelProfile.LoadOrBuild(memory, cache, cancellationToken);
                Assert.That(built.LoadedFromCache, Is.False);
                firstBase = built.KernelBase;
            }
            finally
            {
                await first.DisposeAsync();
            }

            var second = await BootAsync(cancellationToken);
            try
            {
                var guestView = ReadGuestKallsyms(second);
                await second.Qmp.StopAsync(cancellationToken);
                using var memory = second.OpenMemory();
                var loaded = LinuxKernelProfile.LoadOrBuild(memory, cache, cancellationToken);

                TestContext.Out.WriteLine($"_text 0x{firstBase:x} in the first boot, 0x{loaded.KernelBase:x} in the second");
                Assert.That(loaded.LoadedFromCache, Is.True);
                Assert.That(loaded.KernelBase, Is.EqualTo(guestView["_text"]));
                Assert.That(loaded.EntrySyscall64, Is.EqualTo(guestView["entry_SYSCALL_64"]));
                Assert.That(loaded.SysCallTable, Is.EqualTo(guestView["sys_call_table"]));
                Assert.That(loaded.InitTask, Is.EqualTo(guestView["init_task"]));
                Assert.That(loaded.CurrentTaskPerCpuOffset, Is.EqualTo(guestView["current_task"]));
                Assert.That(loaded.GetSyscallName(257), Is.EqualTo("openat"));
            }
            finally
            {
                await second.DisposeAsync();
            }
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }

    private static async Task<QemuMachine> BootAsync(CancellationToken cancellationToken)
    {
        var (kernel, initrd) = TestGuest.Default;
        var machine = await QemuMachine.StartAsync(
            new QemuOptions { Kernel = kernel, Initrd = initrd, Append = $"quiet panic=-1 nitro.workload=\"{Workload}\"" },
            cancellationToken);
        try
        {
            await machine.WaitForConsoleAsync("KALLSYMS-LISTED", TimeSpan.FromSeconds(180), cancellationToken);
            return machine;
        }
        catch
        {
            await machine.DisposeAsync();
            throw;
        }
    }

    private static Dictionary<string, ulong> ReadGuestKallsyms(QemuMachine machine)
    {
        var lines = new ConcurrentQueue<string>();
        using (machine.Console.Subscribe(lines.Enqueue))
        {
        }

        var result = new Dictionary<string, ulong>(StringComparer.Ordinal);
        foreach (var line in lines)
        {
            var match = KallsymsLine().Match(line.Trim());
            if (match.Success)
            {
                result[match.Groups["name"].Value] = ulong.Parse(match.Groups["address"].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            }
        }

        return result;
    }

    private static void AssertSyscalls(LinuxKernelProfile profile)
    {
        Assert.That(profile.Syscalls, Has.Count.InRange(400, LinuxKernelProfile.MaxSyscalls));
        Assert.That(profile.GetSyscallName(0), Is.EqualTo("read"));
        Assert.That(profile.GetSyscallName(1), Is.EqualTo("write"));
        Assert.That(profile.GetSyscallName(2), Is.EqualTo("open"));
        Assert.That(profile.GetSyscallName(59), Is.EqualTo("execve"));
        Assert.That(profile.GetSyscallName(231), Is.EqualTo("exit_group"));
        Assert.That(profile.GetSyscallName(257), Is.EqualTo("openat"));
        Assert.That(profile.Syscalls[257].HandlerName, Is.EqualTo("__x64_sys_openat"));
    }

    private static void AssertOffsets(KernelTypeOffsets offsets)
    {
        var task = new[] { offsets.TaskPid, offsets.TaskTgid, offsets.TaskComm, offsets.TaskMm, offsets.TaskRealParent, offsets.TaskGroupLeader, offsets.TaskTasks };
        Assert.That(task, Is.Unique);
        foreach (var offset in task)
        {
            Assert.That(offset, Is.GreaterThan(0UL).And.LessThan(offsets.TaskStructSize));
        }

        Assert.That(offsets.TaskTgid, Is.EqualTo(offsets.TaskPid + 4), "pid_t pid; pid_t tgid; are adjacent");
        Assert.That(offsets.TaskCommLength, Is.EqualTo(16));
        Assert.That(offsets.TaskComm + 16, Is.LessThanOrEqualTo(offsets.TaskStructSize));
        Assert.That(offsets.MmPgd, Is.GreaterThan(0UL));
        Assert.That(offsets.MmExeFile, Is.GreaterThan(offsets.MmPgd));
        Assert.That(offsets.PathDentry, Is.EqualTo(8UL), "struct path { vfsmount *mnt; dentry *dentry; }");
        Assert.That(offsets.QstrName, Is.EqualTo(8UL));
        Assert.That(offsets.DentryName, Is.GreaterThan(0UL));
        Assert.That(offsets.DentryParent, Is.GreaterThan(0UL));
        Assert.That(offsets.FilePath, Is.GreaterThan(0UL));
    }

    private static async Task PrintCurrentTaskAsync(QemuMachine machine, IGuestMemory memory, KernelSymbols symbols, LinuxKernelProfile profile, CancellationToken cancellationToken)
    {
        // Optional view: the task running on vCPU 0, through the kernel's page tables.
        var registers = await machine.Qmp.HumanMonitorCommandAsync("info registers", cancellationToken);
        var cr3 = ulong.Parse(Cr3().Match(registers).Groups["cr3"].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        var space = new X86AddressSpace(memory, cr3, cr3Mask: PageTableBits.Cr3KptiAddressMask);
        var perCpuBase = symbols.ReadImageUInt64(profile.PerCpuOffset);
        var task = space.ReadUInt64(perCpuBase + profile.CurrentTaskPerCpuOffset);
        var comm = Encoding.ASCII.GetString(space.ReadBytes(task + profile.Offsets.TaskComm, profile.Offsets.TaskCommLength)).TrimEnd('\0');
        var pid = space.ReadUInt32(task + profile.Offsets.TaskPid);
        TestContext.Out.WriteLine($"vCPU 0: CR3 0x{cr3:x}, per-cpu base 0x{perCpuBase:x}, current task 0x{task:x} comm '{comm}' pid {pid}");
        Assert.That(task, Is.GreaterThanOrEqualTo(0xFFFF_8000_0000_0000UL));
        Assert.That(comm, Is.Not.Empty.And.Matches(@"^[\x20-\x7e]+$"));
    }

    [GeneratedRegex(@"^(?<address>[0-9a-f]{16}) \w (?<name>\S+)$", RegexOptions.ExplicitCapture, 1000)]
    private static partial Regex KallsymsLine();

    [GeneratedRegex(@"CR3=(?<cr3>[0-9a-f]+)", RegexOptions.ExplicitCapture, 1000)]
    private static partial Regex Cr3();
}
