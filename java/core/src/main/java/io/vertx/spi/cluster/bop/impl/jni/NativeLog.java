package io.vertx.spi.cluster.bop.impl.jni;

import io.vertx.spi.cluster.bop.impl.BopLog;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The native core's log records, written through the application's logging (Vert.x's logging,
 * so JUL, SLF4J or Log4j 2, whichever the application uses). The native side batches records and
 * hands them over from a thread of its own ({@code vertx-bop-log}), so logging never holds up the
 * node. A record of the Rust target {@code raft::raft} goes to the logger
 * {@code io.vertx.spi.cluster.bop.native.raft.raft}, one of {@code vertx_cluster::transport} to
 * {@code io.vertx.spi.cluster.bop.native.transport}. Trace records are written at debug level.
 *
 * <p>The level the native side produces is the system property {@value #LEVEL_PROPERTY}
 * ({@code off}, {@code error}, {@code warn}, {@code info}, {@code debug}, {@code trace}; default
 * {@code warn}), read whenever a node starts; the application's logger configuration then filters
 * as it does for any logger. {@code VERTX_CLUSTER_LOG} in the environment sends the native log to
 * standard error instead.
 */
public final class NativeLog {

  /** The system property naming the native log level. */
  public static final String LEVEL_PROPERTY = "vertx.bop.logLevel";
  /** The prefix of the loggers native records go to. */
  public static final String LOGGER_PREFIX = "io.vertx.spi.cluster.bop.native.";

  private static final NativeLog INSTANCE = new NativeLog();
  private static final String[] LEVELS = { "off", "error", "warn", "info", "debug", "trace" };

  private final Map<String, BopLog> loggers = new ConcurrentHashMap<>();

  private NativeLog() {
  }

  /** Points the native log at the application's logging, at the level the system property names. */
  public static void install() {
    BopNative.logTo(INSTANCE, level(System.getProperty(LEVEL_PROPERTY)));
  }

  /** The native level code of {@code name}; an unknown name is an error naming the property. */
  static int level(String name) {
    if (name == null) {
      return 2;
    }
    String wanted = name.trim().toLowerCase(Locale.ROOT);
    for (int i = 0; i < LEVELS.length; i++) {
      if (LEVELS[i].equals(wanted)) {
        return i;
      }
    }
    throw new IllegalArgumentException(LEVEL_PROPERTY + "=" + name + " is not a log level (off, error, warn, info, debug, trace)");
  }

  /** The logger name for a Rust target. */
  static String loggerName(String target) {
    String name = target.startsWith("vertx_cluster::") ? target.substring("vertx_cluster::".length()) : target;
    return LOGGER_PREFIX + name.replace("::", ".");
  }

  /** Called by the native log thread with a batch of records (layout in {@code rust/jni/log_forward.rs}). */
  void write(byte[] batch) {
    ByteBuffer in = ByteBuffer.wrap(batch).order(ByteOrder.LITTLE_ENDIAN);
    while (in.remaining() >= 7) {
      int level = in.get();
      String target = string(in, in.getShort() & 0xffff);
      String message = string(in, in.getInt());
      BopLog log = loggers.computeIfAbsent(target, t -> BopLog.get(loggerName(t)));
      switch (level) {
        case 1:
          log.error(message);
          break;
        case 2:
          log.warn(message);
          break;
        case 3:
          log.info(message);
          break;
        default:
          log.debug(message);
          break;
      }
    }
  }

  private static String string(ByteBuffer in, int length) {
    String s = new String(in.array(), in.position(), length, StandardCharsets.UTF_8);
    in.position(in.position() + length);
    return s;
  }
}
