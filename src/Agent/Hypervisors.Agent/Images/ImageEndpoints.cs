using Hypervisors.Agent.Api;
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
            .Produces<IReadOnlyList<CachedImageResource>>().ProducesCommonProblems(501)
            .WithName("ListCachedImages").WithSummary("The host's cached images, with the instances each backs.");

        // Like every mutating route, the image routes answer 202; their work is done when the answer comes.
        v1.MapPost("/images", async (PreCacheRequest body, IServiceProvider services, CancellationToken cancellationToken) =>
                Results.Accepted(value: (await Cache(services).PreCacheAsync(ImageReference.Parse(body.Image), "qcow2", cancellationToken).ConfigureAwait(false)).Entry))
            .Accepts<PreCacheRequest>("application/json")
            .Produces<CachedImageResource>(StatusCodes.Status202Accepted).ProducesCommonProblems(400, 404, 413, 415, 501, 502)
            .WithName("PreCacheImage").WithSummary("Fetches, verifies and converts an image into the cache ahead of any instance; 202 with the cached entry.");

        v1.MapDelete("/images/{name}", (string name, IServiceProvider services) =>
                Cache(services).Delete(name) ? Results.Accepted() : Results.NotFound())
            .Produces(StatusCodes.Status202Accepted).ProducesCommonProblems(400, 404, 501)
            .WithName("DeleteCachedImage").WithSummary("Removes a cached image no instance uses (400 while one does); 202 once removed.");

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
            .Accepts<ImportRequest>("application/json")
            .Produces<List<ImportedInstance>>(StatusCodes.Status202Accepted).ProducesCommonProblems(400, 404, 413, 415, 501)
            .WithName("ImportPackage").WithSummary("Imports an OVA: one instance per VirtualSystem, disks converted through the image cache; 202 with the create operations.");
    }

    private static ImageCache Cache(IServiceProvider services) => services.GetService<ImageCache>() ?? throw NotConfigured();

    private static OperationNotSupportedException NotConfigured() =>
        new("agent", InstanceOperation.Create, "no image cache is configured (Agent:Images:CacheDirectory).");
}
