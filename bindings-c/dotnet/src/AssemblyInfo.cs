using System.Reflection;
using System.Runtime.CompilerServices;

[assembly: AssemblyTitle("GitHub.Copilot.SDK")]
[assembly: AssemblyDescription("Copilot CLI server-mode SDK for .NET over the libcopilot C ABI")]
[assembly: AssemblyVersion("0.1.0.0")]
// The test suite checks internal bookkeeping (every native call completed exactly once).
[assembly: InternalsVisibleTo("copilot-dotnet-tests")]
