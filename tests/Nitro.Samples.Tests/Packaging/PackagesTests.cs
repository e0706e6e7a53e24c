using System.Diagnostics;
using System.IO.Compression;
using System.Reactive.Linq;
using System.Reflection.Metadata;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Microsoft.Reactive.Testing;
using Nitro.Reactive.Linq;
using Nitro.Reactive.Recording;
using Nitro.Reactive.Testing.Recording;
using Nitro.Tests.Shared;

namespace Nitro.Samples.Tests.Packaging;

/// <summary>
/// What a user outside this repository gets: <c>dotnet pack</c> of the solution, a fresh project that
/// takes the packages from the pack folder (third-party packages from the normal feed), and the
/// <c>nitro</c> tool installed with <c>dotnet tool install</c>. Packs once, as CI does
/// (ContinuousIntegrationBuild), with a version suffix of its own so that no package cache can hand
/// back an older build of the same version.
/// </summary>
[NonParallelizable]
public sealed partial class PackagesTests
{
    private static readonly string[] s_libraries = ["Nitro.Reactive", "Nitro.Reactive.Testing", "Nitro.Kvm", "Nitro.Backends.Linux", "Nitro.Backends.Windows"];
    private static readonly TimeSpan s_deadline = TimeSpan.FromMinutes(4);

    private string _work = null!;
    private string _feed = null!;
    private string _version = null!;

    private static string Trace => Path.Combine(TestGuest.RepositoryRoot, "samples", "traces", "demo.nitrotrace");

    [OneTimeSetUp]
    public void Pack()
    {
        _work = Directory.CreateTempSubdirectory("nitro-packages-").FullName;
        _feed = Path.Combine(_work, "feed");
        var suffix = "packtest." + DateTime.UtcNow.ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture);
        var (code, output) = Dotnet(
            TestGuest.RepositoryRoot,
            "pack", Path.Combine(TestGuest.RepositoryRoot, "Nitro.Reactive.sln"), "-c", "Release",
            "-o", _feed, "--artifacts-path", Path.Combine(_work, "artifacts"), "--version-suffix", suffix,
            "-p:ContinuousIntegrationBuild=true");
        Assert.That(code, Is.Zero, "dotnet pack failed:\n" + output);
        var prefix = XDocument.Load(Path.Combine(TestGuest.RepositoryRoot, "Directory.Build.props"))
            .Descendants("VersionPrefix").Single().Value;
        _version = prefix + "-" + suffix;

        File.WriteAllText(Path.Combine(_work, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config>
                <add key="globalPackagesFolder" value="{Path.Combine(_work, "packages")}" />
              </config>
              <fallbackPackageFolders>
                <add key="user-packages" value="{UserPackagesFolder()}" />
              </fallbackPackageFolders>
              <packageSources>
                <add key="nitro-local" value="{_feed}" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="nitro-local">
                  <package pattern="Nitro.*" />
                </packageSource>
                <packageSource key="nuget.org">
                  <package pattern="*" />
                </packageSource>
              </packageSourceMapping>
            </configuration>
            """);
    }

    [OneTimeTearDown]
    public void DeleteWork()
    {
        if (_work is not null && Directory.Exists(_work))
        {
            Directory.Delete(_work, recursive: true);
        }
    }

    [Test]
    public void Pack_gives_the_five_libraries_and_the_tool_all_at_one_version()
    {
        var packages = Directory.GetFiles(_feed, "*.nupkg").Select(Path.GetFileName).Order(StringComparer.Ordinal);

        Assert.That(packages, Is.EqualTo(s_libraries.Append("Nitro.Cli").Select(id => $"{id}.{_version}.nupkg").Order(StringComparer.Ordinal)));
    }

    [TestCaseSource(nameof(s_libraries))]
    public void Each_library_package_has_its_dll_docs_readme_licence_dependencies_and_symbols(string id)
    {
        using var package = ZipFile.OpenRead(Path.Combine(_feed, $"{id}.{_version}.nupkg"));
        var nuspec = Nuspec(package, id);
        var ns = nuspec.Root!.Name.Namespace;
        var metadata = nuspec.Root.Element(ns + "metadata")!;
        var entries = package.Entries.Select(e => e.FullName).ToList();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(entries, Does.Contain($"lib/net10.0/{id}.dll").And.Contain($"lib/net10.0/{id}.xml").And.Contain("README.md"));
            Assert.That(metadata.Element(ns + "license")?.Value, Is.EqualTo("MIT"));
            Assert.That(metadata.Element(ns + "readme")?.Value, Is.EqualTo("README.md"));
            Assert.That(metadata.Element(ns + "description")?.Value, Is.Not.Empty);
            var nitroDependencies = metadata.Descendants(ns + "dependency")
                .Where(d => d.Attribute("id")!.Value.StartsWith("Nitro.", StringComparison.Ordinal))
                .Select(d => d.Attribute("version")!.Value);
            Assert.That(nitroDependencies, Is.All.EqualTo(_version), "Nitro packages depend on each other at the one version");
            Assert.That(File.Exists(Path.Combine(_feed, $"{id}.{_version}.snupkg")), Is.True, "symbols package");
        }
    }

    [Test]
    public void The_testing_package_brings_Microsoft_Reactive_Testing_and_the_facades_that_let_it_run_on_Rx_7()
    {
        using var package = ZipFile.OpenRead(Path.Combine(_feed, $"Nitro.Reactive.Testing.{_version}.nupkg"));
        var nuspec = Nuspec(package, "Nitro.Reactive.Testing");
        var dependencies = nuspec.Descendants(nuspec.Root!.Name.Namespace + "dependency")
            .ToDictionary(d => d.Attribute("id")!.Value, d => d.Attribute("version")!.Value, StringComparer.Ordinal);

        Assert.That(dependencies, Does.ContainKey("Microsoft.Reactive.Testing")
            .And.ContainKey("System.Reactive.Core").And.ContainKey("System.Reactive.Linq")
            .And.ContainKey("System.Reactive.Interfaces").And.ContainKey("System.Reactive.PlatformServices"));
        Assert.That(dependencies["System.Reactive"], Is.EqualTo("7.0.0"));
    }

    [Test]
    public void Symbols_are_built_reproducibly_with_paths_independent_of_the_clone()
    {
        using var symbols = ZipFile.OpenRead(Path.Combine(_feed, $"Nitro.Reactive.{_version}.snupkg"));
        using var pdb = new MemoryStream();
        using (var entry = symbols.GetEntry("lib/net10.0/Nitro.Reactive.pdb")!.Open())
        {
            entry.CopyTo(pdb);
        }

        pdb.Position = 0;
        using var provider = MetadataReaderProvider.FromPortablePdbStream(pdb);
        var reader = provider.GetMetadataReader();
        var documents = reader.Documents.Select(handle => reader.GetString(reader.GetDocument(handle).Name)).ToList();

        Assert.That(documents, Is.Not.Empty);
        Assert.That(documents.Where(d => d.EndsWith(".cs", StringComparison.Ordinal) && !d.Contains("/obj/", StringComparison.Ordinal)), Is.All.StartsWith("/_/"));
        Assert.That(documents, Has.None.Contains(TestGuest.RepositoryRoot));
    }

    [Test]
    public void A_fresh_project_with_the_one_testing_package_runs_a_replay_query_and_marbles()
    {
        // Like an existing Rx test suite that adds Nitro.Reactive.Testing and nothing else: Nitro.Reactive,
        // System.Reactive 7 and Microsoft.Reactive.Testing (on the 6.1 facades) come with it.
        var project = Path.Combine(_work, "consumer");
        Directory.CreateDirectory(project);
        File.WriteAllText(Path.Combine(project, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                <NoWarn>$(NoWarn);NU1603</NoWarn>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Nitro.Reactive.Testing" Version="{_version}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(project, "Program.cs"), """
            using System.Reactive.Linq;
            using Microsoft.Reactive.Testing;
            using Nitro.Reactive.Linq;
            using Nitro.Reactive.Recording;
            using Nitro.Reactive.Syscalls;
            using Nitro.Reactive.Testing.Builders;
            using Nitro.Reactive.Testing.Marbles;
            using Nitro.Reactive.Testing.Recording;

            var calls = new Dictionary<char, Syscall>
            {
                ['o'] = SyscallBuilder.Enter("openat").ByProcess("cat", 42).Build(),
                ['w'] = SyscallBuilder.Enter("write").ByProcess("sh", 7).Build(),
            };
            var marbles = new TestScheduler();
            marbles.ExpectMarbles(marbles.Hot("-o-w-|", calls).WhereProcess("cat"), "-o---|", calls);

            var openedByCat = await TraceReplay.Syscalls(args[0]).WhereProcess("cat").WhereSyscall("openat").Count();
            var scheduler = new TestScheduler();
            var counted = scheduler.Start(() => scheduler.ReplaySyscalls(args[0]).Count(), disposed: long.MaxValue - 1);
            Console.WriteLine($"marbles=ok cat-openat={openedByCat} calls={counted.Messages[0].Value.Value} end={counted.Messages[0].Time}");
            """);

        var (code, output) = Dotnet(project, "run", "-c", "Release", "--", Trace);

        Assert.That(code, Is.Zero, output);
        Assert.That(output.Trim().Split('\n')[^1], Is.EqualTo(ExpectedReplayLine()));
        Assert.That(Directory.GetDirectories(Path.Combine(_work, "packages"), "nitro.reactive*").Select(d => Path.GetFileName(Directory.GetDirectories(d).Single())), Is.All.EqualTo(_version), "the Nitro packages came from the pack folder");
    }

    [Test]
    public void The_tool_installs_from_the_pack_folder_and_runs_as_nitro()
    {
        var tools = Path.Combine(_work, "tools");
        // The tool carries all it needs, so it may come from the pack folder alone (--add-source
        // cannot be combined with the source mapping of the consumer's nuget.config).
        var config = Path.Combine(_work, "tool.nuget.config");
        File.WriteAllText(config, """
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
              </packageSources>
            </configuration>
            """);

        var (installCode, installOutput) = Dotnet(
            _work, "tool", "install", "--tool-path", tools, "--configfile", config, "--add-source", _feed, "Nitro.Cli", "--version", _version);
        Assert.That(installCode, Is.Zero, installOutput);

        var (code, output) = Run(_work, Path.Combine(tools, "nitro"), "stats", Trace);

        Assert.That(code, Is.Zero, output);
        Assert.That(output, Does.Contain("demo.nitrotrace").And.Contain("qemu-gdbstub"));
        Assert.That(SystemCallsRow().Match(output).Groups["count"].Value, Is.EqualTo("484"), "samples/traces/README.md: 484 calls");
    }

    /// <summary>The consumer's line, computed here with the SDK built from source.</summary>
    private static string ExpectedReplayLine()
    {
        var openedByCat = TraceReplay.Syscalls(Trace).WhereProcess("cat").WhereSyscall("openat").Count().Wait();
        var scheduler = new TestScheduler();
        var counted = scheduler.Start(() => scheduler.ReplaySyscalls(Trace).Count(), disposed: long.MaxValue - 1);
        Assert.That(openedByCat, Is.GreaterThan(0));
        return $"marbles=ok cat-openat={openedByCat} calls={counted.Messages[0].Value.Value} end={counted.Messages[0].Time}";
    }

    private static XDocument Nuspec(ZipArchive package, string id)
    {
        using var stream = package.GetEntry(id + ".nuspec")!.Open();
        return XDocument.Load(stream);
    }

    private static string UserPackagesFolder() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } folder
            ? folder
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    private (int Code, string Output) Dotnet(string directory, params string[] arguments) => Run(directory, "dotnet", arguments);

    private (int Code, string Output) Run(string directory, string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // A child dotnet must not inherit the test host's MSBuild settings. The consumer and the tool keep
        // their packages in the work folder (see nuget.config there); packing the repository uses the usual cache.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(name);
        }

        if (!directory.StartsWith(TestGuest.RepositoryRoot, StringComparison.Ordinal))
        {
            start.Environment["NUGET_PACKAGES"] = Path.Combine(_work, "packages");
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_CLI_UI_LANGUAGE"] = "en";

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {file}.");
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(s_deadline))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{file} {string.Join(' ', arguments)} did not finish within {s_deadline.TotalMinutes:0} min.");
        }

        process.WaitForExit();
        return (process.ExitCode, output.GetAwaiter().GetResult() + error.GetAwaiter().GetResult());
    }

    [GeneratedRegex(@"system calls\s*│\s*(?<count>\d+)", RegexOptions.ExplicitCapture, matchTimeoutMilliseconds: 1000)]
    private static partial Regex SystemCallsRow();
}
