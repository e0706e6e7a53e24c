using Nitro.Backends.Linux.Profile;
using Nitro.Reactive.Memory;

namespace Nitro.Backends.Linux.Tests.Profile;

public sealed class LinuxKernelProfileTests
{
    private string _cache = null!;

    [SetUp]
    public void CreateCache() => _cache = Directory.CreateTempSubdirectory("nitro-profile-test-").FullName;

    [TearDown]
    public void DeleteCache() => Directory.Delete(_cache, recursive: true);

    [Test]
    public void Build_reads_entry_points_offsets_and_the_syscall_table()
    {
        var kernel = SyntheticKernel.Create();

        var profile = LinuxKernelProfile.Build(kernel.Memory);

        Assert.That(profile.KernelBase, Is.EqualTo(kernel.Text));
        Assert.That(profile.ImageDelta, Is.EqualTo(kernel.Delta));
        Assert.That(profile.Banner, Is.EqualTo(kernel.Banner));
        Assert.That(profile.EntrySyscall64, Is.EqualTo(kernel.Text + SyntheticKernel.EntryOffset));
        Assert.That(profile.EntrySysretqUnsafeStack, Is.EqualTo(kernel.Text + SyntheticKernel.SysretqOffset));
        Assert.That(profile.SwapgsRestoreRegsAndReturnToUsermode, Is.EqualTo(kernel.Text + SyntheticKernel.ReturnToUserOffset));
        Assert.That(profile.SysCallTable, Is.EqualTo(kernel.Text + SyntheticKernel.SysCallTableOffset));
        Assert.That(profile.InitTask, Is.EqualTo(kernel.Text + SyntheticKernel.InitTaskOffset));
        Assert.That(profile.LinuxBanner, Is.EqualTo(kernel.Text + SyntheticKernel.BannerOffset));
        Assert.That(profile.PerCpuOffset, Is.EqualTo(kernel.Text + SyntheticKernel.PerCpuOffsetOffset));
        Assert.That(profile.CurrentTaskPerCpuOffset, Is.EqualTo(SyntheticKernel.CurrentTask));
        Assert.That(profile.Ia32SysCallTable, Is.Null);
        Assert.That(profile.Ia32Syscalls, Is.Empty);
        Assert.That(profile.Ia32Error, Does.Contain("neither ia32_sys_call_table nor ia32_sys_call"), "no ia32 table is not an error for 64-bit tracing");
        Assert.That(profile.GetIa32SyscallName(5), Is.Null);
        Assert.That(profile.LoadedFromCache, Is.False);

        Assert.That(profile.Offsets, Is.EqualTo(new KernelTypeOffsets
        {
            TaskStructSize = SyntheticKernel.TaskSize,
            TaskPid = SyntheticKernel.TaskPid,
            TaskTgid = SyntheticKernel.TaskTgid,
            TaskComm = SyntheticKernel.TaskComm,
            TaskCommLength = 16,
            TaskMm = SyntheticKernel.TaskMm,
            TaskRealParent = SyntheticKernel.TaskRealParent,
            TaskGroupLeader = SyntheticKernel.TaskGroupLeader,
            TaskTasks = SyntheticKernel.TaskTasks,
            MmPgd = 72,
            MmExeFile = 944,
            FilePath = 16,
            PathDentry = 8,
            DentryName = 32,
            DentryParent = 24,
            QstrName = 8,
        }));
    }

    [Test]
    public void Syscall_table_stops_where_handlers_stop_and_names_unimplemented_slots()
    {
        var kernel = SyntheticKernel.Create();

        var profile = LinuxKernelProfile.Build(kernel.Memory);

        Assert.That(profile.Syscalls, Has.Count.EqualTo(SyntheticKernel.SyscallCount));
        for (var i = 0; i < SyntheticKernel.SyscallCount; i++)
        {
            var entry = profile.Syscalls[i];
            Assert.That(entry.Number, Is.EqualTo(i));
            Assert.That(entry.IsImplemented, Is.EqualTo(!SyntheticKernel.IsNi(i)), $"slot {i}");
            Assert.That(entry.Name, Is.EqualTo(SyntheticKernel.IsNi(i) ? "ni_syscall" : SyntheticKernel.SyscallName(i)));
        }

        Assert.That(profile.Syscalls[257], Is.EqualTo(new SyscallTableEntry(257, "__x64_sys_openat", "openat", kernel.Text + 0x10000 + (0x10 * 257))));
        Assert.That(profile.GetSyscallName(59), Is.EqualTo("execve"));
        Assert.That(profile.GetSyscallName(SyntheticKernel.SyscallCount), Is.Null);
        Assert.That(profile.GetSyscallName(-1), Is.Null);
    }

    [Test]
    public void Current_task_comes_from_pcpu_hot_when_there_is_no_current_task_symbol()
    {
        var kernel = SyntheticKernel.Create(editSymbols: symbols =>
            symbols.Where(s => !string.Equals(s.Name, "current_task", StringComparison.Ordinal)).Append(("pcpu_hot", 'A', 0x1F000UL)));

        var profile = LinuxKernelProfile.Build(kernel.Memory);

        Assert.That(profile.CurrentTaskPerCpuOffset, Is.EqualTo(0x1F000UL + 8));
    }

    [Test]
    public void Build_refuses_an_entry_point_without_swapgs()
    {
        var kernel = SyntheticKernel.Create();
        kernel.Memory.Write(kernel.PhysicalText + SyntheticKernel.SysretqOffset, [0x90, 0x90, 0x90]);

        var error = Assert.Throws<ProfileException>(() => LinuxKernelProfile.Build(kernel.Memory));
        Assert.That(error!.Message, Does.Contain("entry_SYSRETQ_unsafe_stack").And.Contain("swapgs"));
    }

    [Test]
    public void Cached_profile_is_reused_after_a_different_KASLR_slide()
    {
        var first = SyntheticKernel.Create(text: 0xFFFF_FFFF_9A00_0000, physicalText: 0x40_0000);
        var built = LinuxKernelProfile.Build(first.Memory);
        var path = built.Save(_cache);
        Assert.That(path, Is.EqualTo(LinuxKernelProfile.GetCachePath(_cache, built.Banner)));

        var second = SyntheticKernel.Create(text: 0xFFFF_FFFF_8C40_0000, physicalText: 0x20_0000);
        var loaded = LinuxKernelProfile.TryLoad(path, second.Memory);

        Assert.That(loaded, Is.Not.Null);
        Assert.That(loaded!.LoadedFromCache, Is.True);
        Assert.That(loaded.KernelBase, Is.EqualTo(second.Text));
        Assert.That(loaded.ImageDelta, Is.EqualTo(second.Delta));
        Assert.That(loaded.EntrySyscall64, Is.EqualTo(second.Text + SyntheticKernel.EntryOffset));
        Assert.That(loaded.Syscalls[257].Handler, Is.EqualTo(second.Text + 0x10000 + (0x10 * 257)));
        Assert.That(loaded.Syscalls.Select(s => s.HandlerName), Is.EqualTo(built.Syscalls.Select(s => s.HandlerName)));
        Assert.That(loaded.Offsets, Is.EqualTo(built.Offsets));
        Assert.That(loaded.CurrentTaskPerCpuOffset, Is.EqualTo(built.CurrentTaskPerCpuOffset));
    }

    [Test]
    public void Cached_profile_of_another_kernel_build_is_rejected()
    {
        var built = LinuxKernelProfile.Build(SyntheticKernel.Create().Memory);
        var path = built.Save(_cache);

        var other = SyntheticKernel.Create(banner: "Linux version 6.1.0-other (test@nitro) #2 SMP");

        Assert.That(LinuxKernelProfile.TryLoad(path, other.Memory), Is.Null);
    }

    [Test]
    public void Cached_profile_whose_syscall_table_moved_is_rejected()
    {
        var kernel = SyntheticKernel.Create();
        var path = LinuxKernelProfile.Build(kernel.Memory).Save(_cache);
        kernel.Memory.Write(kernel.PhysicalText + SyntheticKernel.SysCallTableOffset, new byte[8]);

        Assert.That(LinuxKernelProfile.TryLoad(path, kernel.Memory), Is.Null);
    }

    [Test]
    public void Damaged_cache_file_is_ignored()
    {
        var path = Path.Combine(_cache, "broken.json");
        File.WriteAllText(path, "{ not json");

        Assert.That(LinuxKernelProfile.TryLoad(path, SyntheticKernel.Create().Memory), Is.Null);
        Assert.That(LinuxKernelProfile.TryLoad(Path.Combine(_cache, "missing.json"), new ArrayGuestMemory(16)), Is.Null);
    }

    [Test]
    public void LoadOrBuild_builds_once_then_loads_from_the_cache()
    {
        var kernel = SyntheticKernel.Create();

        var first = LinuxKernelProfile.LoadOrBuild(kernel.Memory, _cache);
        var second = LinuxKernelProfile.LoadOrBuild(kernel.Memory, _cache);
        var other = LinuxKernelProfile.LoadOrBuild(SyntheticKernel.Create(banner: "Linux version 6.1.0-other #3").Memory, _cache);

        Assert.That(first.LoadedFromCache, Is.False);
        Assert.That(second.LoadedFromCache, Is.True);
        Assert.That(second.SysCallTable, Is.EqualTo(first.SysCallTable));
        Assert.That(other.LoadedFromCache, Is.False);
        Assert.That(Directory.GetFiles(_cache, "*.json"), Has.Length.EqualTo(2));
    }

    [Test]
    public void Default_cache_directory_honours_XDG_CACHE_HOME()
    {
        var saved = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        try
        {
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", "/tmp/xdg-test");
            Assert.That(LinuxKernelProfile.DefaultCacheDirectory, Is.EqualTo("/tmp/xdg-test/nitro-reactive/profiles"));
        }
        finally
        {
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", saved);
        }
    }
}
