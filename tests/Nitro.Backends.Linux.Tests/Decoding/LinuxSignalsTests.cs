using Nitro.Backends.Linux.Decoding;

namespace Nitro.Backends.Linux.Tests.Decoding;

public sealed class LinuxSignalsTests
{
    [TestCase(1, "SIGHUP")]
    [TestCase(9, "SIGKILL")]
    [TestCase(17, "SIGCHLD")]
    [TestCase(31, "SIGSYS")]
    [TestCase(32, "SIGRTMIN")]
    [TestCase(35, "SIGRTMIN+3")]
    [TestCase(64, "SIGRTMAX")]
    public void Numbers_have_names(int signal, string name) => Assert.That(LinuxSignals.GetName(signal), Is.EqualTo(name));

    [TestCase(0)]
    [TestCase(65)]
    [TestCase(-9)]
    public void Numbers_outside_1_to_64_have_no_name(int signal) => Assert.That(LinuxSignals.GetName(signal), Is.Null);

    [Test]
    public void Every_name_resolves_back_to_its_number()
    {
        for (var signal = 1; signal <= LinuxSignals.RealTimeMax; signal++)
        {
            Assert.That(LinuxSignals.TryGetNumber(LinuxSignals.GetName(signal)!, out var number), Is.True);
            Assert.That(number, Is.EqualTo(signal));
        }
    }

    [TestCase("TERM", 15)]
    [TestCase("SIGIOT", 6)]
    [TestCase("SIGPOLL", 29)]
    [TestCase("SIGRTMAX-1", 63)]
    public void Aliases_and_short_names_resolve(string name, int signal)
    {
        Assert.That(LinuxSignals.TryGetNumber(name, out var number), Is.True);
        Assert.That(number, Is.EqualTo(signal));
    }

    [Test]
    public void Unknown_name_is_not_found() => Assert.That(LinuxSignals.TryGetNumber("SIGNOPE", out _), Is.False);
}
