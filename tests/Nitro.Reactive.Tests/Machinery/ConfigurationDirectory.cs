namespace Nitro.Reactive.Tests.Machinery;

/// <summary>A temporary <c>conf/</c> directory holding one <c>kvm.conf</c>.</summary>
internal sealed class ConfigurationDirectory : IDisposable
{
    /// <summary>A kvm.conf as an operator would write it: three machines, tags, a snapshot, overrides, a reserved one.</summary>
    public const string KvmConf = """
        [kvm]
        # Machines this module drives, one [section] each.
        machines = cuckoo1, cuckoo2,
            ubuntu1
        interface = virbr0
        dsn = qemu:///system

        [cuckoo1]
        label = win7-x64
        platform = windows
        ip = 192.168.122.101
        snapshot = clean
        tags = office, x64
        arch = x64

        [cuckoo2]
        ; a second Windows guest that reports to its own result server
        Label = win10-x64
        platform = windows
        ip = 192.168.122.102
        interface = virbr1
        resultserver_ip = 192.168.122.1
        resultserver_port = 2043
        tags = x64
        reserved = yes

        [ubuntu1]
        label: ubuntu-22
        platform: linux
        ip: 192.168.122.103
        tags: x64, docker
        reserved: no
        """;

    public ConfigurationDirectory(string text)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "nitro-machinery-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
        File.WriteAllText(System.IO.Path.Combine(Path, "kvm.conf"), text);
    }

    public string Path { get; }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
