using Nitro.Backends.Linux.Decoding;

namespace Nitro.Backends.Linux.Tests.Decoding;

public sealed class LinuxErrnoTests
{
    [TestCase(1, "EPERM", "Operation not permitted")]
    [TestCase(2, "ENOENT", "No such file or directory")]
    [TestCase(13, "EACCES", "Permission denied")]
    [TestCase(110, "ETIMEDOUT", "Connection timed out")]
    [TestCase(133, "EHWPOISON", "Memory page has hardware error")]
    [TestCase(512, "ERESTARTSYS", "Restart the system call (interrupted by a signal)")]
    public void Numbers_have_names_and_descriptions(int errno, string name, string description)
    {
        Assert.That(LinuxErrno.GetName(errno), Is.EqualTo(name));
        Assert.That(LinuxErrno.GetDescription(errno), Is.EqualTo(description));
    }

    [TestCase(0)]
    [TestCase(41)]
    [TestCase(58)]
    [TestCase(134)]
    [TestCase(-2)]
    [TestCase(4095)]
    public void Numbers_Linux_does_not_define_have_no_name(int errno)
    {
        Assert.That(LinuxErrno.GetName(errno), Is.Null);
        Assert.That(LinuxErrno.GetDescription(errno), Is.Null);
    }

    [Test]
    public void Every_number_from_1_to_133_except_the_two_gaps_is_named()
    {
        for (var errno = 1; errno <= 133; errno++)
        {
            Assert.That(LinuxErrno.GetName(errno) is not null, Is.EqualTo(errno is not (41 or 58)), errno.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    [TestCase("ENOENT", 2)]
    [TestCase("EWOULDBLOCK", 11)]
    [TestCase("EDEADLOCK", 35)]
    [TestCase("ENOTSUP", 95)]
    [TestCase("ERESTART_RESTARTBLOCK", 516)]
    public void Names_and_aliases_resolve_to_numbers(string name, int errno)
    {
        Assert.That(LinuxErrno.TryGetNumber(name, out var number), Is.True);
        Assert.That(number, Is.EqualTo(errno));
    }

    [Test]
    public void Unknown_name_is_not_found() => Assert.That(LinuxErrno.TryGetNumber("ENOPE", out _), Is.False);

    [TestCase(-1L, true)]
    [TestCase(-4095L, true)]
    [TestCase(-4096L, false)]
    [TestCase(0L, false)]
    [TestCase(long.MinValue, false)]
    public void IsError_is_the_kernel_range(long value, bool isError) => Assert.That(LinuxErrno.IsError(value), Is.EqualTo(isError));
}
