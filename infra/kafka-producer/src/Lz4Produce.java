// Produces the records test/kafka-foreign-lz4.test.ts expects, LZ4-compressed by Kafka's own Java
// client: first in large batches (frames of several 64 KiB blocks), then flushed a few records at a
// time (frames of one small block). Prints {"sent":N} when every record is acknowledged.
// Usage: Lz4Produce <bootstrap> <topic> <large-count> <small-count>
import java.nio.charset.StandardCharsets;
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class Lz4Produce {
  /** The value of record n; the test builds the same. */
  static byte[] value(int n) {
    String pad = "x".repeat(n % 300);
    return ("{\"n\":" + n + ",\"pad\":\"" + pad + "\",\"text\":\"record " + n + " \u00e9\u2603\"}")
        .getBytes(StandardCharsets.UTF_8);
  }

  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    String topic = args[1];
    int large = Integer.parseInt(args[2]);
    int small = Integer.parseInt(args[3]);
    Properties props = new Properties();
    props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
    props.put(ProducerConfig.BATCH_SIZE_CONFIG, 1 << 20);
    props.put(ProducerConfig.LINGER_MS_CONFIG, 200);
    props.put(ProducerConfig.ACKS_CONFIG, "all");
    props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    int n = 0;
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
      for (; n < large; n++) producer.send(new ProducerRecord<>(topic, 0, null, value(n)));
      producer.flush();
      for (; n < large + small; n++) {
        producer.send(new ProducerRecord<>(topic, 0, null, value(n)));
        if (n % 3 == 2) producer.flush();
      }
      producer.flush();
    }
    System.out.println("{\"sent\":" + n + "}");
  }
}
