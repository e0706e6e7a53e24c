using System.Text;
using Nitro.Kvm.Targets;

namespace Nitro.Kvm.Tests.Targets;

/// <summary>Following a serial log that the guest is still writing.</summary>
public sealed class LogLineFollowerTests
{
    private string _path = null!;

    [SetUp]
    public void TempFile() => _path = Path.Combine(Path.GetTempPath(), "nitro-follow-" + Guid.NewGuid().ToString("N") + ".log");

    [TearDown]
    public void Remove() => File.Delete(_path);

    [Test]
    public async Task Gives_each_complete_line_once_and_waits_for_a_partial_one()
    {
        var follower = new LogLineFollower(_path);
        Assert.That(await follower.ReadNewLinesAsync(CancellationToken.None), Is.Empty, "no file yet");

        await File.WriteAllTextAsync(_path, "NITRO-GUEST-READY\r\nNITRO-WAI");
        Assert.That(await follower.ReadNewLinesAsync(CancellationToken.None), Is.EqualTo(new[] { "NITRO-GUEST-READY" }));

        await File.AppendAllTextAsync(_path, "TING\nnext\n");
        Assert.That(await follower.ReadNewLinesAsync(CancellationToken.None), Is.EqualTo(new[] { "NITRO-WAITING", "next" }));
        Assert.That(await follower.ReadNewLinesAsync(CancellationToken.None), Is.Empty, "nothing new");
    }

    [Test]
    public async Task Keeps_a_utf8_character_split_between_writes_whole()
    {
        var follower = new LogLineFollower(_path);
        var bytes = Encoding.UTF8.GetBytes("größe µs\n");
        var split = Array.IndexOf(bytes, (byte)0xC3) + 1; // inside 'ö'
        await File.WriteAllBytesAsync(_path, bytes[..split]);
        Assert.That(await follower.ReadNewLinesAsync(CancellationToken.None), Is.Empty);

        await using (var stream = new FileStream(_path, FileMode.Append))
        {
            await stream.WriteAsync(bytes.AsMemory(split));
        }

        Assert.That(await follower.ReadNewLinesAsync(CancellationToken.None), Is.EqualTo(new[] { "größe µs" }));
    }

    [Test]
    public async Task Reads_a_log_started_afresh_from_the_top()
    {
        var follower = new LogLineFollower(_path);
        await File.WriteAllTextAsync(_path, "first boot, a long line\nNITRO-WORKLOAD-END status=0\n");
        Assert.That(await follower.ReadNewLinesAsync(CancellationToken.None), Has.Count.EqualTo(2));

        await File.WriteAllTextAsync(_path, "restarted\n");
        Assert.That(await follower.ReadNewLinesAsync(CancellationToken.None), Is.EqualTo(new[] { "restarted" }));
    }
}
