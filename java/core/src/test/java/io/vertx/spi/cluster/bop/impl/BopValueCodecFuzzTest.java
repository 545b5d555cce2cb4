package io.vertx.spi.cluster.bop.impl;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.Test;

import java.io.Serializable;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;

import static org.junit.Assert.fail;

/**
 * A seeded mutation fuzzer over {@link BopValueCodec#decode}, the Java side of every value that
 * arrives from the cluster: seeds are the encodings of values of every supported kind (strings,
 * boxed primitives, bytes, buffers, JSON, a {@code ClusterSerializable}, Java-serialized
 * collections, nested ones), mutated by bytes (flips, interesting values, insertions, deletions,
 * truncations, splices). For every input, {@code decode} either returns a value or throws
 * {@link IllegalArgumentException} (its contract), and a value it returns goes back through
 * {@code encode} and {@code decode} under the same contract.
 * Anything else (another exception, an {@link Error}) is a failure, printed with its input.
 *
 * <p>{@code -Dbop.fuzz.inputs=N} sets the number of mutated inputs (20 000 by default, a few seconds;
 * {@code scripts/fuzz.sh} runs it with its count), {@code -Dbop.fuzz.seed=S} the seed (1).
 */
public class BopValueCodecFuzzTest {

  private static final String THIS_PACKAGE = BopValueCodecFuzzTest.class.getPackage().getName() + ".*";

  private final BopValueCodec codec = new BopValueCodec(null, Collections.singletonList(THIS_PACKAGE));

  /** A Serializable value class of the application's (on the allow-list through its package). */
  public static final class Point implements Serializable {
    private static final long serialVersionUID = 1L;
    final int x;
    final String label;
    final List<Point> next;

    Point(int x, String label, List<Point> next) {
      this.x = x;
      this.label = label;
      this.next = next;
    }
  }

  /** splitmix64, as the Rust fuzzer's. */
  private static final class Rng {
    private long state;

    Rng(long seed) {
      state = seed;
    }

    long next() {
      state += 0x9e3779b97f4a7c15L;
      long z = state;
      z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
      z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
      return z ^ (z >>> 31);
    }

    int below(int n) {
      return (int) Long.remainderUnsigned(next(), n);
    }
  }

  private List<byte[]> seeds() {
    Map<String, Object> map = new HashMap<>();
    map.put("a", 1);
    map.put("b", new ArrayList<>(Arrays.asList("x", 2L, 3.5)));
    TreeMap<String, Integer> sorted = new TreeMap<>();
    sorted.put("k", 7);
    HashSet<Object> set = new HashSet<>(Arrays.asList(1, "two", UUID.randomUUID()));
    List<Object> values = new ArrayList<>(Arrays.asList(
      "", "hello", "h\u00e9llo \ud83d\ude00", true, false, (byte) 7, (short) -300, 42, -1L, 'c',
      1.5f, Double.NaN, new byte[] {0, 1, 2, (byte) 0xff}, Buffer.buffer("buffered"),
      new JsonObject().put("name", "v").put("n", 3).put("nested", new JsonObject().put("l", new JsonArray().add(1))),
      new JsonArray().add("a").add(2).addNull().add(new JsonObject()),
      new BopValueCodecTest.Pojo("alice"),
      new BigInteger("123456789012345678901234567890"), new BigDecimal("-1.25"), UUID.randomUUID(),
      new ArrayList<>(Arrays.asList(1, 2, 3)), map, sorted, set, new LinkedHashMap<>(map),
      new Point(1, "p", new ArrayList<>(Collections.singletonList(new Point(2, "q", new ArrayList<>()))))));
    List<byte[]> seeds = new ArrayList<>();
    for (Object value : values) {
      seeds.add(codec.encode(value));
    }
    return seeds;
  }

  private static final int[] INTERESTING = {0, 1, 0x7f, 0x80, 0xff, 0x70, 0x71, 0x73, 0x75, 0x77, 0x78};

  private static byte[] mutate(byte[] seed, byte[] other, Rng rng) {
    byte[] data = seed.clone();
    int rounds = 1 + rng.below(4);
    for (int r = 0; r < rounds; r++) {
      int len = data.length;
      switch (rng.below(8)) {
        case 0:
          if (len > 0) {
            data[rng.below(len)] ^= (byte) (1 << rng.below(8));
          }
          break;
        case 1:
          if (len > 0) {
            data[rng.below(len)] = (byte) INTERESTING[rng.below(INTERESTING.length)];
          }
          break;
        case 2: {
          int at = rng.below(len + 1);
          int n = 1 + rng.below(8);
          byte[] grown = new byte[len + n];
          System.arraycopy(data, 0, grown, 0, at);
          for (int i = 0; i < n; i++) {
            grown[at + i] = (byte) rng.next();
          }
          System.arraycopy(data, at, grown, at + n, len - at);
          data = grown;
          break;
        }
        case 3:
          if (len > 0) {
            int at = rng.below(len);
            int n = Math.min(1 + rng.below(16), len - at);
            byte[] shrunk = new byte[len - n];
            System.arraycopy(data, 0, shrunk, 0, at);
            System.arraycopy(data, at + n, shrunk, at, len - at - n);
            data = shrunk;
          }
          break;
        case 4:
          if (len > 0) {
            data = Arrays.copyOf(data, rng.below(len));
          }
          break;
        case 5:
          if (len >= 4) {
            // A big-endian int (Java serialization's lengths and handles) of an interesting size.
            int at = rng.below(len - 3);
            int value = new int[] {0, 1, -1, Integer.MAX_VALUE, Integer.MIN_VALUE, 0x7e0000, 1 << 20}[rng.below(7)];
            data[at] = (byte) (value >>> 24);
            data[at + 1] = (byte) (value >>> 16);
            data[at + 2] = (byte) (value >>> 8);
            data[at + 3] = (byte) value;
          }
          break;
        case 6:
          if (other.length > 0) {
            int from = rng.below(other.length);
            int n = Math.min(1 + rng.below(64), other.length - from);
            int at = rng.below(len + 1);
            byte[] spliced = new byte[len + n];
            System.arraycopy(data, 0, spliced, 0, at);
            System.arraycopy(other, from, spliced, at, n);
            System.arraycopy(data, at, spliced, at + n, len - at);
            data = spliced;
          }
          break;
        default:
          if (len > 0) {
            // Another tag: the same body read as another type.
            data[0] = (byte) rng.below(24);
          }
          break;
      }
    }
    return data;
  }

  /** Null when the codec kept its contract on {@code input}, else what it did instead. */
  private Throwable run(byte[] input) {
    Object value;
    try {
      value = codec.decode(input);
    } catch (IllegalArgumentException expected) {
      return null;
    } catch (Throwable t) {
      return t;
    }
    try {
      // A value that decodes encodes again, and that decodes under the same contract (Java
      // serialization may refuse its own output: a mutated HashMap's load factor reads back as 0).
      codec.decode(codec.encode(value));
      return null;
    } catch (IllegalArgumentException refused) {
      return null;
    } catch (Throwable t) {
      return new AssertionError("a decoded " + value.getClass().getName() + " broke the contract on its way back: "
        + t, t);
    }
  }

  @Test
  public void every_input_decodes_or_is_refused_with_an_illegal_argument() {
    long inputs = Long.getLong("bop.fuzz.inputs", 20_000L);
    long seed = Long.getLong("bop.fuzz.seed", 1L);
    Rng rng = new Rng(seed);
    List<byte[]> corpus = new ArrayList<>(seeds());
    int seedCount = corpus.size();
    List<String> failures = new ArrayList<>();
    long slowestNanos = 0;
    long started = System.nanoTime();
    for (long i = 0; i < inputs + seedCount; i++) {
      byte[] input = i < seedCount
        ? corpus.get((int) i)
        : mutate(corpus.get(rng.below(corpus.size())), corpus.get(rng.below(corpus.size())), rng);
      long t0 = System.nanoTime();
      Throwable failure = run(input);
      slowestNanos = Math.max(slowestNanos, System.nanoTime() - t0);
      if (failure != null && failures.size() < 20) {
        failures.add(failure + "\n    " + hex(input));
      } else if (failure == null && corpus.size() < 4096 && rng.below(64) == 0) {
        corpus.add(input);
      }
    }
    double secs = (System.nanoTime() - started) / 1e9;
    System.out.printf("fuzz java value codec: %d inputs (%d seeds + %d mutated, seed %d), %d failures, %.1f s, "
      + "%.0f inputs/s, slowest input %.1f ms%n", inputs + seedCount, seedCount, inputs, seed, failures.size(), secs,
      (inputs + seedCount) / secs, slowestNanos / 1e6);
    if (!failures.isEmpty()) {
      fail(failures.size() + " inputs broke the codec's contract:\n" + String.join("\n", failures));
    }
  }

  private static String hex(byte[] bytes) {
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < Math.min(bytes.length, 256); i++) {
      out.append(String.format("%02x", bytes[i] & 0xff));
    }
    return out.toString();
  }
}
