using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Runtime.Loader;

namespace Hypervisors.Agent.Configuration;

/// <summary>
/// Finds the driver kinds the agent can host: every <see cref="IHypervisorDriverKind"/> an assembly names with
/// <see cref="HypervisorDriverKindAttribute"/>, among the assemblies loaded into the process and the assemblies in the
/// agent's own directory that reference the SDK's core assembly. A driver package therefore becomes a kind of the
/// agent by being deployed beside it (a package reference in the agent's build, or its files copied next to the
/// agent's): the agent's code names no driver. Only assemblies that reference the core are loaded; the rest of the
/// directory is read as metadata and left alone.
/// </summary>
internal static class DriverKindCatalog
{
    /// <summary>The SDK's core assembly, which declares <see cref="HypervisorDriverKindAttribute"/>.</summary>
    private static readonly string CoreAssemblyName = typeof(IHypervisorDriverKind).Assembly.GetName().Name!;

    /// <summary>
    /// The kinds named by the loaded assemblies and by the assemblies in <paramref name="directory"/> whose metadata
    /// carries <see cref="HypervisorDriverKindAttribute"/> (only those are loaded). An assembly of the directory that
    /// cannot be loaded is reported in <see cref="DriverKindDiscovery.Skipped"/> and the start goes on without it.
    /// </summary>
    /// <exception cref="AgentStartupException">An assembly names a type that is not a kind.</exception>
    public static DriverKindDiscovery Discover(string directory)
    {
        var skipped = new List<string>();
        var assemblies = new Dictionary<string, Assembly>(StringComparer.OrdinalIgnoreCase);
        foreach (var loaded in AppDomain.CurrentDomain.GetAssemblies())
        {
            if (!loaded.IsDynamic && loaded.GetName().Name is { } name && DeclaresKinds(loaded))
            {
                assemblies.TryAdd(name, loaded);
            }
        }

        foreach (var file in Directory.EnumerateFiles(directory, "*.dll").Order(StringComparer.Ordinal))
        {
            if (DeclaringKinds(file) is not { Name: { } name } assemblyName || assemblies.ContainsKey(name))
            {
                continue;
            }

            try
            {
                var assembly = Load(assemblyName, file);
                _ = assembly.GetCustomAttributes<HypervisorDriverKindAttribute>().ToList(); // its dependencies resolve
                assemblies[name] = assembly;
            }
            catch (Exception exception) when (exception is FileNotFoundException or FileLoadException or BadImageFormatException or TypeLoadException)
            {
                skipped.Add($"{Path.GetFileName(file)}: {exception.Message}");
            }
        }

        var kinds = new List<IHypervisorDriverKind>();
        foreach (var assembly in assemblies.Values.OrderBy(a => a.GetName().Name, StringComparer.Ordinal))
        {
            foreach (var attribute in assembly.GetCustomAttributes<HypervisorDriverKindAttribute>())
            {
                if (!typeof(IHypervisorDriverKind).IsAssignableFrom(attribute.KindType) || attribute.KindType.GetConstructor(Type.EmptyTypes) is null)
                {
                    throw new AgentStartupException(
                        $"{assembly.GetName().Name} names {attribute.KindType.FullName} as a driver kind, but it is not an {nameof(IHypervisorDriverKind)} with a public parameterless constructor.");
                }

                kinds.Add((IHypervisorDriverKind)Activator.CreateInstance(attribute.KindType)!);
            }
        }

        // Two packages claiming one name are refused when the kinds are registered (HypervisorDriverKinds.AddDriverKind).
        return new DriverKindDiscovery(kinds, skipped);
    }

    /// <summary>Whether a loaded assembly carries the attribute, read from its metadata (no other attribute is resolved).</summary>
    private static bool DeclaresKinds(Assembly assembly)
    {
        try
        {
            return assembly.GetReferencedAssemblies().Any(reference => reference.Name == CoreAssemblyName)
                && assembly.CustomAttributes.Any(attribute => attribute.AttributeType == typeof(HypervisorDriverKindAttribute));
        }
        catch (Exception exception) when (exception is FileNotFoundException or FileLoadException or TypeLoadException)
        {
            return false; // an assembly of the host whose own attributes do not resolve names no kind the agent can use
        }
    }

    /// <summary>The assembly's name when <paramref name="file"/> is a managed assembly carrying the attribute; else null.</summary>
    private static AssemblyName? DeclaringKinds(string file)
    {
        try
        {
            using var stream = File.OpenRead(file);
            using var reader = new PEReader(stream);
            if (!reader.HasMetadata)
            {
                return null;
            }

            var metadata = reader.GetMetadataReader();
            if (!metadata.IsAssembly || !metadata.AssemblyReferences.Any(handle => metadata.StringComparer.Equals(metadata.GetAssemblyReference(handle).Name, CoreAssemblyName)))
            {
                return null;
            }

            foreach (var handle in metadata.GetAssemblyDefinition().GetCustomAttributes())
            {
                // The attribute lives in the core, so its constructor is a member reference on a type reference.
                var constructor = metadata.GetCustomAttribute(handle).Constructor;
                if (constructor.Kind == HandleKind.MemberReference
                    && metadata.GetMemberReference((MemberReferenceHandle)constructor).Parent is { Kind: HandleKind.TypeReference } parent
                    && metadata.GetTypeReference((TypeReferenceHandle)parent) is var type
                    && metadata.StringComparer.Equals(type.Name, nameof(HypervisorDriverKindAttribute))
                    && metadata.StringComparer.Equals(type.Namespace, typeof(HypervisorDriverKindAttribute).Namespace!))
                {
                    return metadata.GetAssemblyDefinition().GetAssemblyName();
                }
            }

            return null;
        }
        catch (Exception exception) when (exception is BadImageFormatException or IOException or UnauthorizedAccessException)
        {
            return null; // a native library or an unreadable file: not a driver package
        }
    }

    /// <summary>Loads by name through the application's dependency list, else from the file (a package copied in).</summary>
    private static Assembly Load(AssemblyName name, string file)
    {
        try
        {
            return AssemblyLoadContext.Default.LoadFromAssemblyName(name);
        }
        catch (FileNotFoundException)
        {
            return AssemblyLoadContext.Default.LoadFromAssemblyPath(Path.GetFullPath(file));
        }
    }
}

/// <summary>What <see cref="DriverKindCatalog.Discover"/> found.</summary>
/// <param name="Kinds">The kinds, in assembly-name order.</param>
/// <param name="Skipped">The assemblies of the agent's directory that name kinds but could not be loaded, with the reason.</param>
internal sealed record DriverKindDiscovery(IReadOnlyList<IHypervisorDriverKind> Kinds, IReadOnlyList<string> Skipped);
