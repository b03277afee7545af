// Reads a Delta table with Delta Kernel for Java and prints what it found as one JSON line, for
// test/lake-foreign-readers.test.ts: per snapshot asked for, its version, the log segment Kernel
// replayed (checkpoint and commits), the schema, the row count and, per column, non-null values
// and an aggregate of them, so that every column is read and its values can be compared with ours.
//
// Usage: DeltaKernelRead <table> <snapshot>... [--txn <appId>]...
//   snapshot: latest | v:<version> | t:<ms since epoch>
import io.delta.kernel.Scan;
import io.delta.kernel.Snapshot;
import io.delta.kernel.Table;
import io.delta.kernel.data.ColumnVector;
import io.delta.kernel.data.ColumnarBatch;
import io.delta.kernel.data.FilteredColumnarBatch;
import io.delta.kernel.data.Row;
import io.delta.kernel.defaults.engine.DefaultEngine;
import io.delta.kernel.engine.Engine;
import io.delta.kernel.internal.InternalScanFileUtils;
import io.delta.kernel.internal.SnapshotImpl;
import io.delta.kernel.internal.data.ScanStateRow;
import io.delta.kernel.internal.snapshot.LogSegment;
import io.delta.kernel.types.ArrayType;
import io.delta.kernel.types.BinaryType;
import io.delta.kernel.types.BooleanType;
import io.delta.kernel.types.DataType;
import io.delta.kernel.types.DateType;
import io.delta.kernel.types.IntegerType;
import io.delta.kernel.types.LongType;
import io.delta.kernel.types.StringType;
import io.delta.kernel.types.StructField;
import io.delta.kernel.types.StructType;
import io.delta.kernel.types.TimestampType;
import io.delta.kernel.utils.CloseableIterator;
import io.delta.kernel.utils.FileStatus;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.apache.hadoop.conf.Configuration;

public final class DeltaKernelRead {
  /**
   * Non-null values of a column, and their sum, min and max: of numbers, of booleans as 0/1, of
   * strings' UTF-8 lengths, of binaries' byte lengths, of arrays' element counts (whatever the
   * element type), of dates as days and timestamps as microseconds since the epoch (no sum: it
   * would overflow a long).
   */
  static final class ColumnStats {
    final String name;
    final DataType type;
    long nonNull;
    long sum;
    long min = Long.MAX_VALUE;
    long max = Long.MIN_VALUE;

    ColumnStats(StructField field) {
      this.name = field.getName();
      this.type = field.getDataType();
    }

    void add(ColumnVector v, int row) {
      if (v.isNullAt(row)) return;
      nonNull++;
      long value;
      if (type instanceof LongType || type instanceof TimestampType) value = v.getLong(row);
      else if (type instanceof IntegerType || type instanceof DateType) value = v.getInt(row);
      else if (type instanceof BooleanType) value = v.getBoolean(row) ? 1 : 0;
      else if (type instanceof StringType) value = v.getString(row).getBytes(StandardCharsets.UTF_8).length;
      else if (type instanceof BinaryType) value = v.getBinary(row).length;
      else if (type instanceof ArrayType) value = v.getArray(row).getSize();
      else throw new IllegalStateException("unexpected type " + type + " of " + name);
      if (!(type instanceof TimestampType)) sum += value;
      min = Math.min(min, value);
      max = Math.max(max, value);
    }

    String json() {
      return String.format(
          "{\"name\":\"%s\",\"type\":\"%s\",\"nonNull\":%d,\"sum\":%d,\"min\":%s,\"max\":%s}",
          name, type, nonNull, sum, nonNull == 0 ? "null" : min, nonNull == 0 ? "null" : max);
    }
  }

  public static void main(String[] args) throws Exception {
    Engine engine = DefaultEngine.create(new Configuration());
    Table table = Table.forPath(engine, args[0]);
    List<String> snapshots = new ArrayList<>();
    List<String> appIds = new ArrayList<>();
    for (int i = 1; i < args.length; i++) {
      if (args[i].equals("--txn")) appIds.add(args[++i]);
      else snapshots.add(args[i]);
    }
    StringBuilder out = new StringBuilder("{\"snapshots\":[");
    for (int i = 0; i < snapshots.size(); i++) {
      if (i > 0) out.append(',');
      out.append(read(engine, table, snapshots.get(i), appIds));
    }
    System.out.println(out.append("]}"));
  }

  static Snapshot open(Engine engine, Table table, String spec) throws Exception {
    if (spec.equals("latest")) return table.getLatestSnapshot(engine);
    if (spec.startsWith("v:")) return table.getSnapshotAsOfVersion(engine, Long.parseLong(spec.substring(2)));
    if (spec.startsWith("t:")) return table.getSnapshotAsOfTimestamp(engine, Long.parseLong(spec.substring(2)));
    throw new IllegalArgumentException("not a snapshot: " + spec);
  }

  static String read(Engine engine, Table table, String spec, List<String> appIds) throws Exception {
    Snapshot snapshot = open(engine, table, spec);
    StructType schema = snapshot.getSchema(engine);
    List<ColumnStats> columns = new ArrayList<>();
    for (StructField field : schema.fields()) columns.add(new ColumnStats(field));
    Scan scan = snapshot.getScanBuilder(engine).build();
    Row scanState = scan.getScanState(engine);
    StructType physical = ScanStateRow.getPhysicalDataReadSchema(engine, scanState);
    long rows = 0;
    long files = 0;
    try (CloseableIterator<FilteredColumnarBatch> scanFiles = scan.getScanFiles(engine)) {
      while (scanFiles.hasNext()) {
        try (CloseableIterator<Row> fileRows = scanFiles.next().getRows()) {
          while (fileRows.hasNext()) {
            Row fileRow = fileRows.next();
            files++;
            FileStatus file = InternalScanFileUtils.getAddFileStatus(fileRow);
            CloseableIterator<ColumnarBatch> data =
                engine.getParquetHandler().readParquetFiles(single(file), physical, Optional.empty());
            try (CloseableIterator<FilteredColumnarBatch> logical =
                Scan.transformPhysicalData(engine, scanState, fileRow, data)) {
              while (logical.hasNext()) {
                FilteredColumnarBatch batch = logical.next();
                ColumnarBatch values = batch.getData();
                Optional<ColumnVector> selection = batch.getSelectionVector();
                for (int r = 0; r < values.getSize(); r++) {
                  if (selection.isPresent()
                      && (selection.get().isNullAt(r) || !selection.get().getBoolean(r))) continue;
                  rows++;
                  for (int c = 0; c < columns.size(); c++) columns.get(c).add(values.getColumnVector(c), r);
                }
              }
            }
          }
        }
      }
    }
    LogSegment segment = ((SnapshotImpl) snapshot).getLogSegment();
    StringBuilder json = new StringBuilder();
    json.append(String.format(
        "{\"spec\":\"%s\",\"version\":%d,\"timestamp\":%d,\"checkpointVersion\":%s,\"commitsReplayed\":%d,"
            + "\"files\":%d,\"rows\":%d,\"txn\":{",
        spec,
        snapshot.getVersion(engine),
        snapshot.getTimestamp(engine),
        segment.checkpointVersionOpt.map(String::valueOf).orElse("null"),
        segment.deltas.size(),
        files,
        rows));
    for (int i = 0; i < appIds.size(); i++) {
      Optional<Long> v = ((SnapshotImpl) snapshot).getLatestTransactionVersion(engine, appIds.get(i));
      json.append(i > 0 ? "," : "").append('"').append(appIds.get(i)).append("\":")
          .append(v.map(String::valueOf).orElse("null"));
    }
    json.append("},\"columns\":[");
    for (int c = 0; c < columns.size(); c++) json.append(c > 0 ? "," : "").append(columns.get(c).json());
    return json.append("]}").toString();
  }

  static CloseableIterator<FileStatus> single(FileStatus file) {
    return new CloseableIterator<FileStatus>() {
      boolean done;

      @Override
      public boolean hasNext() {
        return !done;
      }

      @Override
      public FileStatus next() {
        done = true;
        return file;
      }

      @Override
      public void close() {}
    };
  }
}
