using Nitro.Reactive.Machinery;

namespace Nitro.Reactive.Tests.Machinery;

/// <summary>
/// A complete machinery module in four overrides, as small as Cuckoo's documented example: the
/// "hypervisor" is a dictionary of label → state. <see cref="Failures"/> makes an operation throw.
/// </summary>
internal sealed class ScriptedMachinery(string configurationDirectory) : MachineryModule("kvm", configurationDirectory)
{
    public Dictionary<string, MachineState> Hypervisor { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, Exception> Failures { get; } = new(StringComparer.Ordinal);

    public List<string> Calls { get; } = [];

    protected override Task<bool> ExistsAsync(Machine machine, CancellationToken cancellationToken) =>
        Task.FromResult(Hypervisor.ContainsKey(machine.Label));

    protected override Task StartCoreAsync(Machine machine, CancellationToken cancellationToken) =>
        Set("start", machine, MachineState.Running);

    protected override Task StopCoreAsync(Machine machine, CancellationToken cancellationToken) =>
        Set("stop", machine, MachineState.PoweredOff);

    protected override Task<MachineState> StatusCoreAsync(Machine machine, CancellationToken cancellationToken) =>
        Task.FromResult(Hypervisor[machine.Label]);

    private Task Set(string operation, Machine machine, MachineState state)
    {
        Calls.Add($"{operation} {machine.Label}");
        if (Failures.TryGetValue($"{operation} {machine.Label}", out var failure))
        {
            throw failure;
        }

        Hypervisor[machine.Label] = state;
        return Task.CompletedTask;
    }
}
