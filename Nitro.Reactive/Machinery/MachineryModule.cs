using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Nitro.Reactive.Machinery;

/// <summary>
/// The base of a machinery module: the code that drives one kind of hypervisor for a sandbox, after the
/// contract of Cuckoo and CAPE machinery modules, made asynchronous. A module reads
/// <c>&lt;configurationDirectory&gt;/&lt;module&gt;.conf</c> (see <see cref="InitializeAsync"/>) and implements
/// four members: <see cref="ExistsAsync"/>, <see cref="StartCoreAsync"/>, <see cref="StopCoreAsync"/> and
/// <see cref="StatusCoreAsync"/>. The base resolves labels, tracks which machines this instance started and
/// which are acquired, and wraps every failure of a module into a <see cref="MachineryException"/> naming the
/// machine (the original failure is its inner exception). Cancellation is not wrapped.
/// </summary>
/// <remarks>All public members are safe to call concurrently once <see cref="InitializeAsync"/> has completed.</remarks>
/// <example>
/// A module needs no more than this:
/// <code>
/// public sealed class ToyMachinery() : MachineryModule("toy")
/// {
///     protected override Task&lt;bool&gt; ExistsAsync(Machine machine, CancellationToken ct) =&gt; Toy.HasVmAsync(machine.Label, ct);
///     protected override Task StartCoreAsync(Machine machine, CancellationToken ct) =&gt; Toy.RevertAndStartAsync(machine.Label, machine.Snapshot, ct);
///     protected override Task StopCoreAsync(Machine machine, CancellationToken ct) =&gt; Toy.PowerOffAsync(machine.Label, ct);
///     protected override Task&lt;MachineState&gt; StatusCoreAsync(Machine machine, CancellationToken ct) =&gt; Toy.StateAsync(machine.Label, ct);
/// }
/// </code>
/// </example>
public abstract class MachineryModule
{
    private readonly Lock gate = new();
    private readonly HashSet<string> started = new(StringComparer.Ordinal);
    private List<TaskCompletionSource> waiters = [];
    private Machine[] machines = [];
    private IniConfiguration? configuration;
    private IniSection? options;

    /// <summary>Initializes a new instance.</summary>
    /// <param name="moduleName">The module's name: its configuration file is <c>&lt;moduleName&gt;.conf</c> and holds a <c>[&lt;moduleName&gt;]</c> section.</param>
    /// <param name="configurationDirectory">The directory holding the configuration file.</param>
    protected MachineryModule(string moduleName, string configurationDirectory = "conf")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(moduleName);
        ArgumentNullException.ThrowIfNull(configurationDirectory);
        ModuleName = moduleName;
        ConfigurationPath = Path.Combine(configurationDirectory, moduleName + ".conf");
    }

    /// <summary>Gets the module's name (<c>kvm</c>, <c>virtualbox</c>…).</summary>
    public string ModuleName { get; }

    /// <summary>Gets the path of the configuration file <see cref="InitializeAsync"/> reads.</summary>
    public string ConfigurationPath { get; }

    /// <summary>Gets the module's own <c>[&lt;module&gt;]</c> section (for example <c>dsn</c>, <c>interface</c>).</summary>
    /// <exception cref="InvalidOperationException"><see cref="InitializeAsync"/> has not completed.</exception>
    public IniSection Options => options ?? throw NotInitialized();

    /// <summary>Gets the machines, in the order of the <c>machines</c> key; empty before <see cref="InitializeAsync"/>.</summary>
    public IReadOnlyList<Machine> Machines => Volatile.Read(ref machines);

    /// <summary>Gets the whole configuration file, for modules that read more than <see cref="Options"/>.</summary>
    /// <exception cref="InvalidOperationException"><see cref="InitializeAsync"/> has not completed.</exception>
    protected IniConfiguration Configuration => configuration ?? throw NotInitialized();

    /// <summary>
    /// Gets where the machines live, for messages such as "machine 'x' (label y) does not exist in …".
    /// Defaults to the module name; a module may name its hypervisor connection (<c>libvirt at qemu:///system</c>).
    /// </summary>
    protected virtual string Location => ModuleName;

    /// <summary>
    /// Reads <see cref="ConfigurationPath"/>, builds the machines with <see cref="ReadMachines"/> and checks each
    /// with <see cref="InitializeMachineAsync"/> (by default: that it exists in the hypervisor).
    /// </summary>
    /// <param name="cancellationToken">Cancels the checks.</param>
    /// <returns>A task that completes when every machine has been checked.</returns>
    /// <exception cref="MachineryConfigurationException">The file is missing or malformed, lacks the <c>[&lt;module&gt;]</c> section or a required key, or two machines share a label.</exception>
    /// <exception cref="MachineryException">A machine does not exist or cannot be checked.</exception>
    /// <exception cref="InvalidOperationException">The machinery is already initialized.</exception>
    public virtual async Task InitializeAsync(CancellationToken cancellationToken = default)
    {
        if (configuration is not null)
        {
            throw new InvalidOperationException($"The {ModuleName} machinery is already initialized.");
        }

        var file = IniConfiguration.Load(ConfigurationPath);
        var moduleSection = file.GetSection(ModuleName);
        configuration = file;
        options = moduleSection;
        try
        {
            var read = ReadMachines(file);
            var labels = new Dictionary<string, Machine>(StringComparer.Ordinal);
            foreach (var machine in read)
            {
                if (!labels.TryAdd(machine.Label, machine))
                {
                    throw machine.Section.CreateException("label", $"label '{machine.Label}' is already used by machine '{labels[machine.Label].Id}'; each machine needs its own.");
                }
            }

            foreach (var machine in read)
            {
                await InitializeMachineAsync(machine, cancellationToken);
            }

            Volatile.Write(ref machines, [.. read]);
        }
        catch
        {
            configuration = null;
            options = null;
            throw;
        }
    }

    /// <summary>Starts a machine: reverts it to its snapshot (or the current one) and powers it on.</summary>
    /// <param name="label">The machine's hypervisor label.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>A task that completes when the machine runs.</returns>
    /// <exception cref="MachineryException">The label is unknown or the module failed.</exception>
    public async Task StartAsync(string label, CancellationToken cancellationToken = default)
    {
        var machine = Find(label);
        await Invoke(machine, "start", ct => StartCoreAsync(machine, ct), cancellationToken);
        lock (gate)
        {
            started.Add(machine.Label);
        }
    }

    /// <summary>Powers a machine off.</summary>
    /// <param name="label">The machine's hypervisor label.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>A task that completes when the machine is off.</returns>
    /// <exception cref="MachineryException">The label is unknown or the module failed.</exception>
    public async Task StopAsync(string label, CancellationToken cancellationToken = default)
    {
        var machine = Find(label);
        await Invoke(machine, "stop", ct => StopCoreAsync(machine, ct), cancellationToken);
        lock (gate)
        {
            started.Remove(machine.Label);
        }
    }

    /// <summary>Asks the hypervisor for a machine's power state.</summary>
    /// <param name="label">The machine's hypervisor label.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The state.</returns>
    /// <exception cref="MachineryException">The label is unknown or the module failed.</exception>
    public Task<MachineState> StatusAsync(string label, CancellationToken cancellationToken = default)
    {
        var machine = Find(label);
        return Invoke(machine, "status query", ct => StatusCoreAsync(machine, ct), cancellationToken);
    }

    /// <summary>Lists every machine with its power state.</summary>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The machines, in configuration order, with their states.</returns>
    /// <exception cref="MachineryException">The module failed for some machine.</exception>
    public async Task<IReadOnlyList<MachineStatus>> ListAsync(CancellationToken cancellationToken = default)
    {
        var all = Machines;
        var result = new MachineStatus[all.Count];
        for (var i = 0; i < all.Count; i++)
        {
            var machine = all[i];
            var state = await Invoke(machine, "status query", ct => StatusCoreAsync(machine, ct), cancellationToken);
            result[i] = new MachineStatus(machine, state);
        }

        return result;
    }

    /// <summary>Writes a dump of a machine's physical memory to a file.</summary>
    /// <param name="label">The machine's hypervisor label.</param>
    /// <param name="path">The file to write.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>A task that completes when the dump is written.</returns>
    /// <exception cref="MachineryException">The label is unknown, the module cannot dump memory, or it failed.</exception>
    public Task DumpMemoryAsync(string label, string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var machine = Find(label);
        return Invoke(machine, "memory dump", ct => DumpMemoryCoreAsync(machine, path, ct), cancellationToken);
    }

    /// <summary>
    /// Stops every machine this instance started and has not stopped since. Every machine is tried; the
    /// failures are reported together.
    /// </summary>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>A task that completes when every started machine has been stopped or has failed to.</returns>
    /// <exception cref="MachineryException">Some machines failed to stop; the inner <see cref="AggregateException"/> holds each failure.</exception>
    public async Task ShutdownAsync(CancellationToken cancellationToken = default)
    {
        string[] labels;
        lock (gate)
        {
            labels = [.. started];
        }

        var failures = new List<MachineryException>();
        foreach (var label in labels)
        {
            try
            {
                await StopAsync(label, cancellationToken);
            }
            catch (MachineryException exception)
            {
                failures.Add(exception);
            }
        }

        if (failures.Count > 0)
        {
            var message = new StringBuilder($"{ModuleName}: {failures.Count} of {labels.Length} started machines failed to stop; stop them by hand:");
            foreach (var failure in failures)
            {
                message.Append("\n  ").Append(failure.Message);
            }

            throw new MachineryException(message.ToString(), new AggregateException(failures));
        }
    }

    /// <summary>
    /// Acquires a free machine that matches a request and locks it, atomically: two callers never hold the same
    /// machine. When matching machines exist but all are held, waits until one is released (unlike Cuckoo,
    /// which returns none) or the token is cancelled.
    /// </summary>
    /// <param name="request">What the machine must match.</param>
    /// <param name="cancellationToken">Ends the wait.</param>
    /// <returns>The locked machine; give it back with <see cref="Release(Machine)"/>.</returns>
    /// <exception cref="MachineryException">The request names an unknown label, or no machine could ever match it.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled before a machine became free.</exception>
    public async Task<Machine> AcquireAsync(MachineRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Label is not null)
        {
            Find(request.Label);
        }

        while (true)
        {
            TaskCompletionSource waiter;
            lock (gate)
            {
                var anyMatch = false;
                foreach (var machine in machines)
                {
                    if (request.Matches(machine))
                    {
                        anyMatch = true;
                        if (!machine.Locked)
                        {
                            machine.Locked = true;
                            return machine;
                        }
                    }
                }

                if (!anyMatch)
                {
                    throw new MachineryException($"{ModuleName}: no machine matches the request ({request}); machines: {Describe(machines)}. Reserved machines are only acquired by label.");
                }

                cancellationToken.ThrowIfCancellationRequested();
                waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                waiters.Add(waiter);
            }

            try
            {
                await waiter.Task.WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                lock (gate)
                {
                    waiters.Remove(waiter);
                }

                throw;
            }
        }
    }

    /// <summary>Releases a machine acquired with <see cref="AcquireAsync"/>, waking callers that wait for one.</summary>
    /// <param name="machine">The machine.</param>
    /// <exception cref="MachineryException">The machine does not belong to this machinery or is not acquired.</exception>
    public void Release(Machine machine)
    {
        ArgumentNullException.ThrowIfNull(machine);
        var own = Find(machine.Label);
        if (!ReferenceEquals(own, machine))
        {
            throw new MachineryException(machine.Label, $"{ModuleName}: machine '{machine.Id}' (label {machine.Label}) does not belong to this machinery.", null);
        }

        List<TaskCompletionSource> woken;
        lock (gate)
        {
            if (!machine.Locked)
            {
                throw new MachineryException(machine.Label, $"{ModuleName}: machine '{machine.Id}' (label {machine.Label}) is not acquired; release each machine once.", null);
            }

            machine.Locked = false;
            woken = waiters;
            waiters = [];
        }

        foreach (var waiter in woken)
        {
            waiter.TrySetResult();
        }
    }

    /// <summary>Releases the machine with a label (see <see cref="Release(Machine)"/>).</summary>
    /// <param name="label">The machine's hypervisor label.</param>
    /// <exception cref="MachineryException">The label is unknown or the machine is not acquired.</exception>
    public void Release(string label) => Release(Find(label));

    /// <summary>
    /// Builds the machines from the configuration. The default reads <c>machines = id1, id2</c> from the
    /// <c>[&lt;module&gt;]</c> section and one section per id with <see cref="ReadMachine"/>. Override for another layout.
    /// </summary>
    /// <param name="configuration">The parsed configuration file.</param>
    /// <returns>The machines, in order.</returns>
    /// <exception cref="MachineryConfigurationException">A key is missing or malformed, or an id has no section.</exception>
    protected virtual IReadOnlyList<Machine> ReadMachines(IniConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var module = configuration.GetSection(ModuleName);
        var ids = module.GetList("machines");
        var result = new List<Machine>(ids.Count);
        foreach (var id in ids)
        {
            if (!configuration.TryGetSection(id, out var section))
            {
                throw module.CreateException("machines", $"machine '{id}' is listed but there is no [{id}] section; add one or remove '{id}' from the list.");
            }

            result.Add(ReadMachine(section, module));
        }

        return result;
    }

    /// <summary>
    /// Reads one machine section: required <c>label</c>, <c>platform</c>, <c>ip</c>; optional <c>snapshot</c>,
    /// <c>interface</c> (defaults to the module section's), <c>resultserver_ip</c>, <c>resultserver_port</c>,
    /// <c>tags</c> (comma-separated), <c>arch</c> and <c>reserved</c> (boolean).
    /// </summary>
    /// <param name="section">The machine's section; its name is the machine's id.</param>
    /// <param name="module">The module's section, for defaults.</param>
    /// <returns>The machine, not locked.</returns>
    /// <exception cref="MachineryConfigurationException">A required key is missing or a value is malformed.</exception>
    protected static Machine ReadMachine(IniSection section, IniSection module)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(module);
        var label = Required(section, "label");
        var platform = Required(section, "platform");
        var ip = Address(section, "ip") ?? throw section.CreateException("ip", "required key is missing; add 'ip = <the guest's address>'.");
        return new Machine
        {
            Id = section.Name,
            Label = label,
            Platform = platform,
            Ip = ip,
            Snapshot = Optional(section, "snapshot"),
            Interface = Optional(section, "interface") ?? Optional(module, "interface"),
            ResultServerIp = Address(section, "resultserver_ip"),
            ResultServerPort = Port(section, "resultserver_port"),
            Tags = section.TryGetList("tags", out var tags) ? new HashSet<string>(tags, StringComparer.Ordinal) : new HashSet<string>(StringComparer.Ordinal),
            Arch = Optional(section, "arch"),
            Reserved = section.TryGetBoolean("reserved", out var reserved) && reserved,
            Section = section,
        };
    }

    /// <summary>
    /// Checks one machine during <see cref="InitializeAsync"/>. The default throws when
    /// <see cref="ExistsAsync"/> says the machine does not exist; override to check more (and call the base).
    /// </summary>
    /// <param name="machine">The machine.</param>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns>A task that completes when the machine has been checked.</returns>
    /// <exception cref="MachineryException">The machine does not exist or cannot be checked.</exception>
    protected virtual async Task InitializeMachineAsync(Machine machine, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(machine);
        var exists = await Invoke(machine, "existence check", ct => ExistsAsync(machine, ct), cancellationToken);
        if (!exists)
        {
            throw new MachineryException(machine.Label, $"{ModuleName}: machine '{machine.Id}' (label {machine.Label}) does not exist in {Location}; create it or fix 'label' in [{machine.Id}] of {machine.Section.FileName}.", null);
        }
    }

    /// <summary>Tells whether the hypervisor knows the machine's label.</summary>
    /// <param name="machine">The machine.</param>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns>Whether the machine exists.</returns>
    protected abstract Task<bool> ExistsAsync(Machine machine, CancellationToken cancellationToken);

    /// <summary>Reverts the machine to <see cref="Machine.Snapshot"/> (or its current snapshot) and powers it on.</summary>
    /// <param name="machine">The machine.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>A task that completes when the machine runs.</returns>
    protected abstract Task StartCoreAsync(Machine machine, CancellationToken cancellationToken);

    /// <summary>Powers the machine off.</summary>
    /// <param name="machine">The machine.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>A task that completes when the machine is off.</returns>
    protected abstract Task StopCoreAsync(Machine machine, CancellationToken cancellationToken);

    /// <summary>Asks the hypervisor for the machine's power state.</summary>
    /// <param name="machine">The machine.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The state.</returns>
    protected abstract Task<MachineState> StatusCoreAsync(Machine machine, CancellationToken cancellationToken);

    /// <summary>Writes the machine's physical memory to a file. The default reports that the module cannot.</summary>
    /// <param name="machine">The machine.</param>
    /// <param name="path">The file to write.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>A task that completes when the dump is written.</returns>
    /// <exception cref="MachineryException">The module does not support memory dumps.</exception>
    protected virtual Task DumpMemoryCoreAsync(Machine machine, string path, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(machine);
        throw new MachineryException(machine.Label, $"{ModuleName}: memory dumps are not supported by {ModuleName} (machine '{machine.Id}', label {machine.Label}).", null);
    }

    private static string? Optional(IniSection section, string key) =>
        section.TryGetString(key, out var value) && value.Length > 0 ? value : null;

    private static string Required(IniSection section, string key) =>
        Optional(section, key) ?? throw section.CreateException(key, section.ContainsKey(key)
            ? "the value is empty."
            : $"required key is missing; add '{key} = ...' to [{section.Name}].");

    private static string? Address(IniSection section, string key)
    {
        var text = Optional(section, key);
        // IPAddress also accepts inet_aton forms such as "10.1" (= 10.0.0.1); an operator means a dotted quad.
        if (text is not null && !(IPAddress.TryParse(text, out var address)
            && (address.AddressFamily == AddressFamily.InterNetworkV6 || string.Equals(address.ToString(), text, StringComparison.Ordinal))))
        {
            throw section.CreateException(key, $"'{text}' is not an IP address.");
        }

        return text;
    }

    private static int? Port(IniSection section, string key)
    {
        if (!section.TryGetInt32(key, out var port))
        {
            return null;
        }

        return port is > 0 and <= 65535 ? port : throw section.CreateException(key, $"{port} is not a TCP port (1-65535).");
    }

    private static string Describe(IReadOnlyList<Machine> all)
    {
        if (all.Count == 0)
        {
            return "none (was InitializeAsync called?)";
        }

        var text = new StringBuilder();
        foreach (var machine in all)
        {
            if (text.Length > 0)
            {
                text.Append(", ");
            }

            text.Append(machine.Label);
        }

        return text.ToString();
    }

    private Machine Find(string label)
    {
        ArgumentNullException.ThrowIfNull(label);
        var all = Machines;
        foreach (var machine in all)
        {
            if (string.Equals(machine.Label, label, StringComparison.Ordinal))
            {
                return machine;
            }
        }

        throw new MachineryException(label, $"{ModuleName}: no machine is labelled '{label}'; known labels: {Describe(all)}.", null);
    }

    private async Task<T> Invoke<T>(Machine machine, string operation, Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await call(cancellationToken);
        }
        catch (Exception exception) when (exception is not MachineryException && !(exception is OperationCanceledException && cancellationToken.IsCancellationRequested))
        {
            throw new MachineryException(machine.Label, $"{ModuleName}: {operation} of machine '{machine.Id}' (label {machine.Label}) failed: {exception.Message}", exception);
        }
    }

    private Task Invoke(Machine machine, string operation, Func<CancellationToken, Task> call, CancellationToken cancellationToken) =>
        Invoke(machine, operation, async ct =>
        {
            await call(ct);
            return true;
        }, cancellationToken);

    private InvalidOperationException NotInitialized() =>
        new($"The {ModuleName} machinery is not initialized; call InitializeAsync first.");
}
