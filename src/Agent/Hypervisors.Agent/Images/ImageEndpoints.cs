using Hypervisors.Agent.Client;
using Hypervisors.Agent.Operations;
using Hypervisors.Images;
using Hypervisors.Images.Cache;
using Hypervisors.Images.Ovf;

namespace Hypervisors.Agent.Images;

/// <summary>The image endpoints: pre-cache, list and delete cached images, and OVF/OVA import.</summary>
internal static class ImageEndpoints
{
    public static void MapImageApi(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1");

        v1.MapGet("/images", (IServiceProvider services) => Cache(services).List())
            .WithName("ListCachedImages").WithSummary("The host's cached images, with the instances each backs.");

        v1.MapPost("/images", async (PreCacheRequest body, IServiceProvider services, CancellationToken cancellationToken) =>
                (await Cache(services).PreCacheAsync(ImageReference.Parse(body.Image), "qcow2", cancellationToken).ConfigureAwait(false)).Entry)
            .WithName("PreCacheImage").WithSummary("Fetches, verifies and converts an image into the cache ahead of any instance.");

        v1.MapDelete("/images/{name}", (string name, IServiceProvider services) =>
                Cache(services).Delete(name) ? Results.NoContent() : Results.NotFound())
            .WithName("DeleteCachedImage").WithSummary("Removes a cached image no instance uses (409 while one does).");

        v1.MapPost("/drivers/{driver}/imports", async (string driver, ImportRequest body, IServiceProvider services, OperationService operations, CancellationToken cancellationToken) =>
            {
                operations.GetDriver(driver);
                var importer = services.GetService<OvfImporter>() ?? throw NotConfigured();
                var specs = await importer.PrepareAsync(new OvfImportRequest
                {
                    Package = body.Package,
                    DeploymentOption = body.DeploymentOption,
                    NetworkMapping = body.NetworkMapping ?? [],
                    Properties = body.Properties ?? [],
                    NamePrefix = body.NamePrefix,
                }, cancellationToken).ConfigureAwait(false);
                var created = new List<ImportedInstance>();
                foreach (var spec in specs)
                {
                    var submitted = await operations.SubmitCreateAsync(driver, spec with { StartAfterCreate = body.StartAfterCreate }, cancellationToken).ConfigureAwait(false);
                    created.Add(new ImportedInstance(spec.Id, spec.Name, submitted.Operation.Id, AgentPaths.Build(["v1", "operations", submitted.Operation.Id]).ToString()));
                }

                return Results.Accepted(value: created);
            })
            .WithName("ImportPackage").WithSummary("Imports an OVA: one instance per VirtualSystem, disks converted through the image cache; 202 with the create operations.");
    }

    private static ImageCache Cache(IServiceProvider services) => services.GetService<ImageCache>() ?? throw NotConfigured();

    private static OperationNotSupportedException NotConfigured() =>
        new("agent", InstanceOperation.Create, "no image cache is configured (Agent:Images:CacheDirectory).");
}
