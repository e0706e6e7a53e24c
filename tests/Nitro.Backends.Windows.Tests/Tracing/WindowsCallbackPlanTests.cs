using Nitro.Backends.Windows.Images;
using Nitro.Backends.Windows.Profile;
using Nitro.Backends.Windows.Tests.Guest;
using Nitro.Backends.Windows.Tracing;
using Nitro.Reactive.Events;
using Nitro.Reactive.Listening;

namespace Nitro.Backends.Windows.Tests.Tracing;

/// <summary>Plans for a listener that reads no register (the QEMU plugin): it follows the locator's paths itself, as done here.</summary>
public sealed class WindowsCallbackPlanTests
{
    [Test]
    public void A_callback_plan_traps_the_named_handlers_and_leads_to_the_trap_frame_without_registers()
    {
        var guest = Guests.Windows10(wine: false);
        var process = guest.AddProcess(1000, 4, "x.exe", null, "x.exe");
        var thread = guest.AddThread(process, 1004);
        var backend = new WindowsBackend(guest.Memory, guest.Profile, guest.Image);

        var plan = backend.CreatePlan(["NtOpenFile", "NtCreateFile"], TrapStyle.Callback);

        Assert.That(plan.Style, Is.EqualTo(TrapStyle.Callback));
        Assert.That(plan.EntryPoints.Select(p => (p.Address, p.Role, p.Emulation, p.Syscall)), Is.EqualTo(new[]
        {
            (guest.Symbol("NtOpenFile"), TrapRole.Handler, TrapEmulation.Execute, (string?)"NtOpenFile"),
            (guest.Symbol("NtCreateFile"), TrapRole.Handler, TrapEmulation.Execute, (string?)"NtCreateFile"),
        }));
        Assert.That(plan.ExitPoints, Is.Empty, "the NTSTATUS is only in RAX on the way out");
        Assert.That(plan.SyscallNumbers, Is.Null, "the points themselves select the calls");

        // What the plugin does at the NtOpenFile callback on vCPU 1, with nothing but the locator and guest RAM.
        var handle = process.Allocate(8);
        guest.Enter(1, thread, 0x33, [handle, 0x100001, process.ObjectAttributes(@"\??\C:\pagefile.sys"), process.Allocate(16), 1, 0x20]);

        // The entry never writes the frame's R10 slot; argument 0 is in KTHREAD.FirstArgument.
        guest.WriteKernel64(thread.TrapFrame + (ulong)guest.Offsets.TrapFrame.R10, 0xDEAD_0000_0000_0010);
        var frames = plan.Frames!;
        var kernel = new Nitro.Reactive.Memory.X86AddressSpace(guest.Memory, frames.KernelPageTableRoot);
        var prcb = Nitro.Reactive.Memory.VirtualMemoryExtensions.ReadUInt64(kernel, frames.PerVcpuTable + 8);
        Assert.That(frames.Task.TryFollow(kernel, prcb, out var task) && task == thread.Ethread, Is.True);
        Assert.That(frames.Frame.TryFollow(kernel, prcb, out var frame) && frame == thread.TrapFrame, Is.True);
        Assert.That(frames.AddressSpace.TryFollow(kernel, task, out var root) && root - frames.AddressSpaceBias == process.Root, Is.True);
        var bytes = new byte[frames.Layout.Size];
        kernel.Read(frame, bytes);
        var registers = frames.Layout.Read(bytes, SyscallDirection.Enter);
        var special = default(SpecialRegisters);
        special.Cr3 = root;
        var trap = new NitroEvent(1, SyscallDirection.Enter, SyscallMechanism.Syscall, in registers, in special, 1000)
        {
            Context = new TrapContext(guest.Symbol("NtOpenFile"), frame, task, prcb),
        };

        var call = backend.TraceOne(trap);

        Assert.That((call.Name, call.Number, call.ThreadId, call.Process!.Name), Is.EqualTo(("NtOpenFile", 0x33L, (long?)1004, "x.exe")));
        Assert.That(call.Arguments[0], Is.EqualTo(handle), "argument 0 from KTHREAD.FirstArgument");
        Assert.That(call.Decoded["ObjectAttributes"], Is.EqualTo(@"\??\C:\pagefile.sys"));
        Assert.That(call.Decoded["OpenOptions"], Is.EqualTo("FILE_SYNCHRONOUS_IO_NONALERT"), "a stack argument through the frame's RSP");
    }

    [Test]
    public void A_callback_plan_for_every_call_is_refused_with_a_reason()
    {
        var guest = Guests.Windows7(wine: false);
        var backend = new WindowsBackend(guest.Memory, guest.Profile, guest.Image);

        var error = Assert.Throws<NotSupportedException>(() => backend.CreatePlan(null, TrapStyle.Callback));

        Assert.That(error!.Message, Does.Contain("named calls"));
    }

    [Test]
    public void Built_in_offsets_cannot_locate_frames_without_KiProcessorBlock()
    {
        var guest = Guests.Windows7(wine: false);
        var backend = new WindowsBackend(guest.Memory, WindowsKernelProfile.ForBuild(7601), new WindowsKernelImage(guest.KernelBase, guest.KernelRoot));

        Assert.Throws<NotSupportedException>(() => backend.CreateFrameLocator());
    }

    [Test]
    public void A_breakpoint_style_plan_is_the_ordinary_plan()
    {
        var guest = Guests.Windows7(wine: false);
        var backend = new WindowsBackend(guest.Memory, guest.Profile, guest.Image);

        var plan = backend.CreatePlan(null, TrapStyle.Breakpoint);

        Assert.That(plan.Style, Is.EqualTo(TrapStyle.Breakpoint));
        Assert.That(plan.EntryPoints.Select(p => p.Emulation), Is.All.EqualTo(TrapEmulation.SwapGs));
    }
}
