namespace Hypervisors.Xen;

/// <summary>A XenAPI user name and password. <see cref="ToString"/> never shows the password.</summary>
/// <param name="UserName">The user ("root" on a standalone host, or a pool RBAC user).</param>
/// <param name="Password">The password.</param>
internal sealed record XenCredentials(string UserName, string Password)
{
    /// <inheritdoc />
    public override string ToString() => $"XenCredentials {{ UserName = {UserName}, Password = *** }}";
}
