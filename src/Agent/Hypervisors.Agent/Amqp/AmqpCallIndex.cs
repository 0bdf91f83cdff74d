using Microsoft.Data.Sqlite;

namespace Hypervisors.Agent.Amqp;

/// <summary>
/// Which operation each AMQP command created, by the command's message id, so a caller that lost its reply can
/// fetch the result again (<c>get_call_result</c>); the result itself is read from the operation journal.
/// </summary>
internal sealed class AmqpCallIndex : IDisposable
{
    private readonly Lock _gate = new();
    private readonly SqliteConnection _connection;

    public AmqpCallIndex(string path)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        _connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        _connection.Open();
        using var command = _connection.CreateCommand();
        command.CommandText = """
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = NORMAL;
            CREATE TABLE IF NOT EXISTS calls (message_key TEXT PRIMARY KEY, operation_id TEXT NOT NULL, recorded_at TEXT NOT NULL);
            """;
        command.ExecuteNonQuery();
    }

    /// <summary>Records that <paramref name="messageKey"/> is operation <paramref name="operationId"/> (a repeat keeps the first).</summary>
    public void Record(string messageKey, string operationId, DateTimeOffset at)
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "INSERT OR IGNORE INTO calls (message_key, operation_id, recorded_at) VALUES ($key, $operation, $at)";
            command.Parameters.AddWithValue("$key", messageKey);
            command.Parameters.AddWithValue("$operation", operationId);
            command.Parameters.AddWithValue("$at", at.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
            command.ExecuteNonQuery();
        }
    }

    /// <summary>The operation created by <paramref name="messageKey"/>, or null.</summary>
    public string? Find(string messageKey)
    {
        lock (_gate)
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT operation_id FROM calls WHERE message_key = $key";
            command.Parameters.AddWithValue("$key", messageKey);
            return command.ExecuteScalar() as string;
        }
    }

    public void Dispose() => _connection.Dispose();
}
