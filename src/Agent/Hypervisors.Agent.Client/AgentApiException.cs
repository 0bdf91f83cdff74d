namespace Hypervisors.Agent.Client;

/// <summary>The agent answered with a problem (RFC 9457); <see cref="Problem"/> carries the contract's error kind.</summary>
public sealed class AgentApiException(AgentProblem problem, int statusCode)
    : Exception(problem?.Detail ?? problem?.Title ?? $"The agent answered {statusCode}.")
{
    /// <summary>The problem the agent returned.</summary>
    public AgentProblem Problem { get; } = problem ?? new AgentProblem();

    /// <summary>The HTTP status.</summary>
    public int StatusCode { get; } = statusCode;

    /// <summary>Whether retrying the same request may succeed.</summary>
    public bool Retryable => Problem.Retryable;
}

/// <summary>The server did not answer as a Hypervisors agent does (an error page without a problem, HTML, foreign JSON).</summary>
public sealed class AgentProtocolException(string message, Exception? innerException = null) : Exception(message, innerException)
{
    /// <summary>The HTTP status of the answer, when it was an error.</summary>
    public int? StatusCode { get; init; }
}
