using System.Reflection;
using Nitro.Tests.Shared;
using PublicApiGenerator;

namespace Nitro.PublicApi.Tests;

/// <summary>
/// The public API of each packaged library must equal its approved file in <c>Approved/</c>. A change
/// fails here with the diff; to accept it, run
/// <c>NITRO_UPDATE_API=1 dotnet test tests/Nitro.PublicApi.Tests -c Release</c> and commit the
/// rewritten files with the change, so that every API change is visible in review.
/// </summary>
public sealed class PublicApiTests
{
    private const string UpdateVariable = "NITRO_UPDATE_API";

    private static readonly string[] s_libraries = ["Nitro.Reactive", "Nitro.Reactive.Testing", "Nitro.Kvm", "Nitro.Backends.Linux", "Nitro.Backends.Windows"];

    private static string ApprovedDirectory => Path.Combine(TestGuest.RepositoryRoot, "tests", "Nitro.PublicApi.Tests", "Approved");

    [TestCaseSource(nameof(s_libraries))]
    public void Public_API_matches_the_approved_file(string library)
    {
        var assembly = Assembly.Load(new AssemblyName(library));
        var actual = Normalize(assembly.GeneratePublicApi(new ApiGeneratorOptions { IncludeAssemblyAttributes = false }));
        var path = Path.Combine(ApprovedDirectory, library + ".approved.txt");

        if (Environment.GetEnvironmentVariable(UpdateVariable) == "1")
        {
            Directory.CreateDirectory(ApprovedDirectory);
            File.WriteAllText(path, actual);
            Assert.Pass($"{UpdateVariable}=1: wrote {path}; review it with git diff and commit it.");
        }

        var approved = File.Exists(path) ? Normalize(File.ReadAllText(path)) : string.Empty;
        if (!string.Equals(approved, actual, StringComparison.Ordinal))
        {
            Assert.Fail(
                $"The public API of {library} differs from {Path.GetRelativePath(TestGuest.RepositoryRoot, path)} " +
                $"('-' approved only, '+' built only):{Environment.NewLine}{LineDiff.Describe(approved, actual)}" +
                $"If the change is meant, accept it with{Environment.NewLine}" +
                $"  {UpdateVariable}=1 dotnet test tests/Nitro.PublicApi.Tests -c Release{Environment.NewLine}" +
                "and commit the rewritten file with the change.");
        }
    }

    [Test]
    public void Every_packaged_library_has_an_approved_file_and_no_other_file_is_there()
    {
        var files = Directory.GetFiles(ApprovedDirectory, "*.approved.txt").Select(Path.GetFileName).Order(StringComparer.Ordinal);

        Assert.That(files, Is.EqualTo(s_libraries.Select(l => l + ".approved.txt").Order(StringComparer.Ordinal)));
    }

    [Test]
    public void The_diff_shows_added_and_removed_lines_with_context()
    {
        var approved = "namespace A\n{\n    public class B\n    {\n        public void Old() { }\n    }\n}\n";
        var actual = "namespace A\n{\n    public class B\n    {\n        public void New() { }\n    }\n}\n";

        var diff = LineDiff.Describe(approved, actual);

        Assert.That(diff, Does.Contain("-         public void Old() { }")
            .And.Contain("+         public void New() { }")
            .And.Contain("      public class B"));
    }

    private static string Normalize(string text) => text.ReplaceLineEndings("\n").TrimEnd('\n') + "\n";
}
