namespace Hypervisors.Uml.Mconsole;

/// <summary>One mconsole answer: whether the kernel reported an error, and its text (all reply packets joined).</summary>
/// <param name="IsError">The kernel's <c>err</c> flag.</param>
/// <param name="Text">The answer's text.</param>
public sealed record MconsoleReply(bool IsError, string Text)
{
    /// <summary>The answer as Debian's <c>uml_mconsole</c> prints it: "OK text" or "ERR text".</summary>
    public override string ToString() => (IsError ? "ERR " : "OK ") + Text;
}

/// <summary>What a UML kernel announces on its notify socket (<c>enum</c> in <c>struct mconsole_notify</c>).</summary>
internal enum MconsoleNotificationType
{
    /// <summary>The kernel booted and serves mconsole on the socket named in the data.</summary>
    Socket = 0,

    /// <summary>The kernel panicked; the data is the panic message.</summary>
    Panic = 1,

    /// <summary>The kernel reported a hang.</summary>
    Hang = 2,

    /// <summary>A guest process wrote to <c>/proc/mconsole</c>; the data is what it wrote.</summary>
    User = 3,
}

/// <summary>One notification from a UML kernel.</summary>
/// <param name="Type">What it announces.</param>
/// <param name="Text">Its data.</param>
internal sealed record MconsoleNotification(MconsoleNotificationType Type, string Text);

/// <summary>Why an mconsole request got no answer.</summary>
internal enum MconsoleFailure
{
    /// <summary>Nothing serves the socket (the kernel is not running, or not yet).</summary>
    NoKernel,

    /// <summary>The kernel did not answer in time.</summary>
    Timeout,
}

/// <summary>An mconsole request that got no answer; the driver maps it to a contract error.</summary>
internal sealed class MconsoleException(MconsoleFailure failure, string message, Exception? innerException = null) : Exception(message, innerException)
{
    /// <summary>Why.</summary>
    public MconsoleFailure Failure { get; } = failure;
}
