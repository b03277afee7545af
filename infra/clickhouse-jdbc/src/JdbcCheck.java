// Drives the platform's ClickHouse HTTP interface with the ClickHouse JDBC driver, as DBeaver,
// Metabase and Tableau do: connect, read the catalog through DatabaseMetaData, run one query.
// Prints one JSON line: {"product", "tables", "columns", "columnsOf", "rows"}.
// Usage: JdbcCheck <jdbc url> <user> <password> <table for getColumns> <query>
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

public class JdbcCheck {
  private static String json(String s) {
    if (s == null) return "null";
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }

  private static String array(List<String> items) {
    return "[" + String.join(",", items) + "]";
  }

  public static void main(String[] args) throws Exception {
    Properties properties = new Properties();
    properties.setProperty("user", args[1]);
    properties.setProperty("password", args[2]);
    // The driver's default is ClickHouse's own compressed block format, which the platform does not
    // speak; plain HTTP (gzip where asked) is what it answers.
    properties.setProperty("compress", "false");
    try (Connection connection = DriverManager.getConnection(args[0], properties)) {
      DatabaseMetaData meta = connection.getMetaData();
      List<String> tables = new ArrayList<>();
      try (ResultSet rs = meta.getTables(null, null, "%", null)) {
        while (rs.next()) tables.add(json(rs.getString("TABLE_SCHEM") + "." + rs.getString("TABLE_NAME")));
      }
      List<String> columns = new ArrayList<>();
      try (ResultSet rs = meta.getColumns(null, null, args[3], "%")) {
        while (rs.next()) columns.add(json(rs.getString("COLUMN_NAME") + " " + rs.getString("TYPE_NAME")));
      }
      List<String> rows = new ArrayList<>();
      try (Statement statement = connection.createStatement(); ResultSet rs = statement.executeQuery(args[4])) {
        ResultSetMetaData shape = rs.getMetaData();
        while (rs.next()) {
          List<String> row = new ArrayList<>();
          for (int i = 1; i <= shape.getColumnCount(); i++) row.add(json(rs.getString(i)));
          rows.add(array(row));
        }
      }
      System.out.println("{\"product\":" + json(meta.getDatabaseProductName() + " " + meta.getDatabaseProductVersion())
          + ",\"tables\":" + array(tables) + ",\"columns\":" + array(columns) + ",\"rows\":" + array(rows) + "}");
    }
  }
}
