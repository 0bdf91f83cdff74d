using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.Logging;

namespace Hypervisors.Images.Http;

/// <summary>
/// Streams an HTTP download into a stream while hashing it, resumes with a Range request where the connection
/// breaks, and checks the size and digest at the end. Whatever it throws, the destination holds unverified bytes the
/// caller must discard.
/// </summary>
internal sealed partial class VerifiedDownload(HttpClient http, int maxResumeAttempts, TimeSpan resumeDelay, long maxBytes, ILogger logger)
{
    private const int BufferSize = 1 << 20;
    private const int MinimumChunk = 256 * 1024;

    /// <summary>Builds a new request for the resource (headers such as auth included); the range is added here.</summary>
    public delegate ValueTask<HttpRequestMessage> RequestFactory(CancellationToken cancellationToken);

    /// <summary>Downloads into <paramref name="destination"/> (positioned at 0, seekable) and returns the byte count.</summary>
    public async Task<long> CopyAsync(
        string imageRef, RequestFactory newRequest, ImageDigest digest, long? expectedSize, Stream destination, CancellationToken cancellationToken)
    {
        if (expectedSize > maxBytes)
        {
            throw new UnsafeImageException(imageRef, $"the image is {expectedSize} bytes; the limit is {maxBytes}.");
        }

        using var hash = digest.CreateHash();
        byte[][] buffers = [ArrayPool<byte>.Shared.Rent(BufferSize), ArrayPool<byte>.Shared.Rent(BufferSize)];
        long offset = 0;
        var resumes = 0;
        try
        {
            while (true)
            {
                var failure = await TryCopyOnceAsync().ConfigureAwait(false);
                if (failure is null)
                {
                    break;
                }

                if (resumes >= maxResumeAttempts)
                {
                    throw new ImageSourceUnavailableException(imageRef, $"the download broke off at byte {offset} and {resumes} resume(s) did not finish it: {failure.Message}", failure);
                }

                resumes++;
                LogResuming(logger, imageRef, offset, resumes, failure.Message);
                await Task.Delay(resumeDelay, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffers[0]);
            ArrayPool<byte>.Shared.Return(buffers[1]);
        }

        if (expectedSize is { } size && offset != size)
        {
            throw new ImageIntegrityException(imageRef, $"received {offset} bytes; the source declared {size}.");
        }

        if (!digest.Matches(hash.GetHashAndReset()))
        {
            throw new ImageIntegrityException(imageRef, $"the {digest.Algorithm} digest of the {offset} bytes received does not match {digest.Hex}.");
        }

        await destination.FlushAsync(cancellationToken).ConfigureAwait(false);
        return offset;

        // Hashes and stores one chunk, the write running while this thread hashes (both only read the chunk); a
        // failing disk is the host's problem, not a broken download to resume.
        async Task HashAndWriteAsync(byte[] chunk, int count)
        {
            await Task.Yield();
            var write = destination.WriteAsync(chunk.AsMemory(0, count), cancellationToken);
            hash.AppendData(chunk, 0, count);
            try
            {
                await write.ConfigureAwait(false);
            }
            catch (IOException ex)
            {
                throw new HypervisorException($"Image '{imageRef}': writing the download failed: {ex.Message}", ex);
            }
        }

        // One request from the current offset. Returns the failure to resume after, or null when the body ended.
        async Task<Exception?> TryCopyOnceAsync()
        {
            using var request = await newRequest(cancellationToken).ConfigureAwait(false);
            if (offset > 0)
            {
                request.Headers.Range = new RangeHeaderValue(offset, null);
            }

            HttpResponseMessage response;
            try
            {
                response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException ex)
            {
                return ex;
            }
            catch (TaskCanceledException ex) when (!cancellationToken.IsCancellationRequested)
            {
                return new TimeoutException("the request timed out.", ex);
            }

            using (response)
            {
                CheckStatus(imageRef, response);
                if (offset > 0 && response.StatusCode != HttpStatusCode.PartialContent)
                {
                    // The server ignored the range: start over.
                    LogRangeIgnored(logger, imageRef, offset);
                    offset = 0;
                    hash.GetHashAndReset();
                    destination.SetLength(0);
                }
                else if (offset > 0 && response.Content.Headers.ContentRange?.From != offset)
                {
                    throw new ImageIntegrityException(imageRef, $"asked for the bytes from {offset}, got range '{response.Content.Headers.ContentRange}'.");
                }

                if (response.Content.Headers.ContentLength is { } length && expectedSize is { } total && offset + length != total)
                {
                    throw new ImageIntegrityException(imageRef, $"the response carries {offset + length} bytes; the source declared {total}.");
                }

                destination.Position = offset;

                // Two buffers: the next read from the network overlaps hashing and writing the previous one.
                var pending = Task.CompletedTask;
                var current = 0;
                try
                {
                    var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
                    await using (body.ConfigureAwait(false))
                    {
                        int read;
                        while ((read = await body.ReadAtLeastAsync(buffers[current].AsMemory(0, BufferSize), MinimumChunk, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false)) > 0)
                        {
                            if (offset + read > (expectedSize ?? maxBytes))
                            {
                                throw new ImageIntegrityException(imageRef, $"the source sent more than the {expectedSize ?? maxBytes} bytes it may.");
                            }

                            await pending.ConfigureAwait(false);
                            pending = HashAndWriteAsync(buffers[current], read);
                            offset += read;
                            current ^= 1;
                        }
                    }

                    await pending.ConfigureAwait(false);
                }
                catch (IOException ex)
                {
                    await pending.ConfigureAwait(false);
                    return ex;
                }
                catch (HttpRequestException ex)
                {
                    await pending.ConfigureAwait(false);
                    return ex;
                }

                // A body that ended cleanly but short (no Content-Length) is resumed like a broken one.
                return expectedSize is { } declared && offset < declared
                    ? new IOException($"the body ended at byte {offset} of {declared}.")
                    : null;
            }
        }
    }

    /// <summary>Maps a failed status to the typed error; returns for 2xx.</summary>
    public static void CheckStatus(string imageRef, HttpResponseMessage response)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var status = (int)response.StatusCode;
        throw response.StatusCode switch
        {
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden =>
                new ImageSourceAuthenticationException(imageRef, $"the image source answered {status} {response.ReasonPhrase}."),
            HttpStatusCode.NotFound or HttpStatusCode.Gone =>
                new InvalidImageReferenceException(imageRef, $"the image source has no such image ({status})."),
            HttpStatusCode.RequestedRangeNotSatisfiable =>
                new ImageIntegrityException(imageRef, "the image source has fewer bytes than were already received."),
            _ when status >= 500 || response.StatusCode == HttpStatusCode.TooManyRequests =>
                new ImageSourceUnavailableException(imageRef, $"the image source answered {status} {response.ReasonPhrase}."),
            _ => new InvalidImageReferenceException(imageRef, $"the image source refused the request: {status} {response.ReasonPhrase}."),
        };
    }

    [LoggerMessage(EventId = 6000, Level = LogLevel.Warning, Message = "Download of {ImageRef} broke off at byte {Offset}; resuming (attempt {Attempt}): {Reason}")]
    private static partial void LogResuming(ILogger logger, string imageRef, long offset, int attempt, string reason);

    [LoggerMessage(EventId = 6001, Level = LogLevel.Warning, Message = "The source of {ImageRef} ignored the range from byte {Offset}; downloading again from the start")]
    private static partial void LogRangeIgnored(ILogger logger, string imageRef, long offset);
}
