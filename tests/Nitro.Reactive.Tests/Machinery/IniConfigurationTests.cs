using Nitro.Reactive.Machinery;

namespace Nitro.Reactive.Tests.Machinery;

public sealed class IniConfigurationTests
{
    [Test]
    public void Reads_sections_and_keys_with_either_separator()
    {
        var ini = IniConfiguration.Parse("[kvm]\nmachines = a, b\ndsn: qemu:///system\n\n[a]\nlabel=win7\n", "kvm.conf");

        Assert.Multiple(() =>
        {
            Assert.That(ini.Sections.Select(s => s.Name), Is.EqualTo(new[] { "kvm", "a" }));
            Assert.That(ini.GetSection("kvm").GetString("machines"), Is.EqualTo("a, b"));
            Assert.That(ini.GetSection("kvm").GetString("dsn"), Is.EqualTo("qemu:///system"));
            Assert.That(ini.GetSection("a").GetString("label"), Is.EqualTo("win7"));
            Assert.That(ini.GetSection("kvm").Keys, Is.EqualTo(new[] { "machines", "dsn" }));
        });
    }

    [Test]
    public void The_first_separator_splits_and_later_ones_stay_in_the_value()
    {
        var section = IniConfiguration.Parse("[s]\nurl: http://host/?a=b\nexpr = x:y\n", "f").GetSection("s");

        Assert.Multiple(() =>
        {
            Assert.That(section.GetString("url"), Is.EqualTo("http://host/?a=b"));
            Assert.That(section.GetString("expr"), Is.EqualTo("x:y"));
        });
    }

    [Test]
    public void Full_line_comments_are_skipped_and_inline_ones_are_kept_as_ConfigParser_does()
    {
        var ini = IniConfiguration.Parse("# hash comment\n; semicolon comment\n[s]\n  # indented comment\nip = 10.0.0.1 ; lab\nempty =\n", "f");
        var section = ini.GetSection("s");

        Assert.Multiple(() =>
        {
            Assert.That(ini.Sections, Has.Count.EqualTo(1));
            Assert.That(section.Keys, Is.EqualTo(new[] { "ip", "empty" }));
            Assert.That(section.GetString("ip"), Is.EqualTo("10.0.0.1 ; lab"));
            Assert.That(section.GetString("empty"), Is.Empty);
        });
    }

    [Test]
    public void Indented_lines_continue_the_previous_value()
    {
        const string text = "[s]\nmachines = a,\n    b,\n\n    c\n\nnext = 1\n  more\n# ends the value\n  other = 2\n";
        var section = IniConfiguration.Parse(text, "f").GetSection("s");

        Assert.Multiple(() =>
        {
            Assert.That(section.GetString("machines"), Is.EqualTo("a,\nb,\n\nc"));
            Assert.That(section.GetList("machines"), Is.EqualTo(new[] { "a", "b", "c" }));
            Assert.That(section.GetString("next"), Is.EqualTo("1\nmore"));
            Assert.That(section.GetString("other"), Is.EqualTo("2"));
        });
    }

    [Test]
    public void Keys_are_case_insensitive_and_section_names_are_not()
    {
        var ini = IniConfiguration.Parse("[Win7]\nLabel = x\n[win7]\nlabel = y\n", "f");

        Assert.Multiple(() =>
        {
            Assert.That(ini.GetSection("Win7").GetString("LABEL"), Is.EqualTo("x"));
            Assert.That(ini.GetSection("Win7").Keys, Is.EqualTo(new[] { "label" }));
            Assert.That(ini.GetSection("win7").GetString("label"), Is.EqualTo("y"));
            Assert.That(ini.TryGetSection("WIN7", out _), Is.False);
        });
    }

    [Test]
    public void A_duplicate_section_names_both_lines()
    {
        var error = Assert.Throws<MachineryConfigurationException>(() => IniConfiguration.Parse("[a]\nx = 1\n\n[a]\n", "kvm.conf"));

        Assert.Multiple(() =>
        {
            Assert.That(error!.Message, Is.EqualTo("kvm.conf:4: [a] duplicate section (first defined on line 1); merge the two."));
            Assert.That(error.LineNumber, Is.EqualTo(4));
            Assert.That(error.Section, Is.EqualTo("a"));
        });
    }

    [Test]
    public void A_duplicate_key_differing_only_in_case_names_line_section_and_key()
    {
        var error = Assert.Throws<MachineryConfigurationException>(() => IniConfiguration.Parse("[a]\nlabel = 1\nip = 2\nLABEL = 3\n", "kvm.conf"));

        Assert.Multiple(() =>
        {
            Assert.That(error!.Message, Is.EqualTo("kvm.conf:4: [a] label: duplicate key (first set on line 2); keep one."));
            Assert.That(error.Key, Is.EqualTo("label"));
            Assert.That(error.FileName, Is.EqualTo("kvm.conf"));
        });
    }

    [Test]
    public void A_key_outside_any_section_is_rejected()
    {
        var error = Assert.Throws<MachineryConfigurationException>(() => IniConfiguration.Parse("# header\nmachines = a\n", "kvm.conf"));

        Assert.That(error!.Message, Is.EqualTo("kvm.conf:2: machines: key outside any section; put a '[section]' header above it."));
    }

    [Test]
    public void A_line_without_separator_is_rejected()
    {
        var error = Assert.Throws<MachineryConfigurationException>(() => IniConfiguration.Parse("[a]\nlabel win7\n", "kvm.conf"));

        Assert.That(error!.Message, Is.EqualTo("kvm.conf:2: [a] missing '=' in 'label win7'; write 'key = value'."));
    }

    [TestCase("[a\n", "kvm.conf:1: malformed section header '[a'; write '[name]'.")]
    [TestCase("[]\n", "kvm.conf:1: malformed section header '[]'; write '[name]'.")]
    [TestCase("[a]\n = 1\n", "kvm.conf:2: [a] missing key before '=' in '= 1'.")]
    public void Malformed_lines_are_rejected_with_their_line(string text, string message)
    {
        var error = Assert.Throws<MachineryConfigurationException>(() => IniConfiguration.Parse(text, "kvm.conf"));

        Assert.That(error!.Message, Is.EqualTo(message));
    }

    [Test]
    public void Crlf_line_endings_are_accepted()
    {
        var section = IniConfiguration.Parse("[a]\r\nlabel = x\r\n", "f").GetSection("a");

        Assert.That(section.GetString("label"), Is.EqualTo("x"));
    }

    [Test]
    public void Typed_getters_read_integers_booleans_and_lists()
    {
        var section = IniConfiguration.Parse("[a]\nport = 2042\nneg = -1\nb1 = YES\nb2 = off\nb3 = 1\nb4 = False\nlist = x, ,y ,, z,\n", "f").GetSection("a");

        Assert.Multiple(() =>
        {
            Assert.That(section.GetInt32("port"), Is.EqualTo(2042));
            Assert.That(section.GetInt32("neg"), Is.EqualTo(-1));
            Assert.That(section.GetBoolean("b1"), Is.True);
            Assert.That(section.GetBoolean("b2"), Is.False);
            Assert.That(section.GetBoolean("b3"), Is.True);
            Assert.That(section.GetBoolean("b4"), Is.False);
            Assert.That(section.GetList("list"), Is.EqualTo(new[] { "x", "y", "z" }));
            Assert.That(section.TryGetInt32("absent", out _), Is.False);
            Assert.That(section.TryGetBoolean("absent", out _), Is.False);
            Assert.That(section.TryGetList("absent", out _), Is.False);
        });
    }

    [Test]
    public void A_bad_integer_names_file_line_section_and_key()
    {
        var section = IniConfiguration.Parse("[cuckoo1]\nlabel = x\nresultserver_port = 20x2\n", "conf/kvm.conf").GetSection("cuckoo1");

        var error = Assert.Throws<MachineryConfigurationException>(() => section.GetInt32("ResultServer_Port"));

        Assert.That(error!.Message, Is.EqualTo("conf/kvm.conf:3: [cuckoo1] resultserver_port: '20x2' is not an integer; write a decimal number such as 2042."));
    }

    [Test]
    public void A_bad_boolean_names_file_line_section_and_key()
    {
        var section = IniConfiguration.Parse("[cuckoo1]\nreserved = maybe\n", "conf/kvm.conf").GetSection("cuckoo1");

        var error = Assert.Throws<MachineryConfigurationException>(() => section.GetBoolean("reserved"));

        Assert.That(error!.Message, Is.EqualTo("conf/kvm.conf:2: [cuckoo1] reserved: 'maybe' is not a boolean; write yes/no, true/false, on/off or 1/0."));
    }

    [Test]
    public void A_missing_key_is_reported_at_the_section_header()
    {
        var section = IniConfiguration.Parse("\n[cuckoo1]\nip = 1.2.3.4\n", "conf/kvm.conf").GetSection("cuckoo1");

        var error = Assert.Throws<MachineryConfigurationException>(() => section.GetString("label"));

        Assert.That(error!.Message, Is.EqualTo("conf/kvm.conf:2: [cuckoo1] label: required key is missing; add 'label = ...' to [cuckoo1]."));
    }

    [Test]
    public void A_missing_section_is_reported_with_the_file()
    {
        var ini = IniConfiguration.Parse("[a]\n", "conf/kvm.conf");

        var error = Assert.Throws<MachineryConfigurationException>(() => ini.GetSection("kvm"));

        Assert.That(error!.Message, Is.EqualTo("conf/kvm.conf: [kvm] the section is missing; add a '[kvm]' section."));
    }

    [Test]
    public void Loading_a_missing_file_names_it()
    {
        var path = Path.Combine(Path.GetTempPath(), "nitro-no-such-dir-" + Guid.NewGuid().ToString("N"), "kvm.conf");

        var error = Assert.Throws<MachineryConfigurationException>(() => IniConfiguration.Load(path));

        Assert.Multiple(() =>
        {
            Assert.That(error!.Message, Does.StartWith(path + ": the configuration file does not exist"));
            Assert.That(error.InnerException, Is.InstanceOf<IOException>());
        });
    }
}
