package io.vertx.spi.cluster.bop.it;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.shareddata.AsyncMap;
import io.vertx.core.shareddata.Counter;
import io.vertx.spi.cluster.bop.BopClusterManager;
import io.vertx.spi.cluster.bop.impl.BopValueCodec;
import io.vertx.spi.cluster.bop.BopClusterOptions;
import io.vertx.spi.cluster.bop.impl.jni.BopNative;
import io.vertx.spi.cluster.bop.impl.jni.BopNodeSettings;
import io.vertx.spi.cluster.bop.impl.jni.BopNodeStatus;
import io.vertx.spi.cluster.bop.impl.jni.NativeLibrary;
import io.vertx.spi.cluster.bop.impl.jni.NativeListener;
import io.vertx.spi.cluster.bop.impl.wire.BopFrame;
import io.vertx.spi.cluster.bop.impl.wire.BopMessages;
import io.vertx.spi.cluster.bop.impl.wire.BopResponses;
import org.junit.After;
import org.junit.BeforeClass;
import org.junit.Test;
import org.junit.function.ThrowingRunnable;

import java.util.Arrays;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

/**
 * Misuse of the native bridge and of a departed cluster manager ends in a Java exception, never in
 * a crash of the JVM: an unknown or closed handle is an {@link IllegalStateException}; a null,
 * malformed (bad checksum, short) or oversized frame, a null listener, malformed settings, seeds
 * without a secret or a port out of range an {@link IllegalArgumentException} naming the problem, after which the node still answers; a value
 * too large for the configured frame size fails its future and the node keeps serving; and every
 * shared-data call after {@code leave} fails with an {@link IllegalStateException}.
 */
public class NativeMisuseTest {

  private static final int MAX_FRAME_SIZE = 4096;

  private final Clusters clusters = new Clusters();
  private final BopValueCodec codec = new BopValueCodec(null, null);
  private long rawHandle;

  @BeforeClass
  public static void loadNative() {
    NativeLibrary.load();
  }

  @After
  public void tearDown() {
    if (rawHandle != 0) {
      try {
        BopNative.close(rawHandle);
      } catch (IllegalStateException alreadyClosed) {
        // The test closed it.
      }
    }
    clusters.closeAll();
  }

  @Test
  public void handles_never_issued_are_illegal_state() {
    byte[] frame = BopMessages.mapGet(1, "m", codec.encode("k"));
    assertIllegalState(() -> BopNative.requests(12345678L, frame), "12345678");
    assertIllegalState(() -> BopNative.status(-1), "-1");
    assertIllegalState(() -> BopNative.status(0), "0");
    assertIllegalState(() -> BopNative.status(Long.MAX_VALUE), String.valueOf(Long.MAX_VALUE));
    assertIllegalState(() -> BopNative.close(12345678L), "12345678");
    assertIllegalState(() -> BopNative.leave(12345678L), "12345678");
  }

  @Test
  public void start_refuses_a_null_listener_and_malformed_or_out_of_range_settings() {
    String cluster = Clusters.uniqueName("misuse-start");
    IllegalArgumentException noListener = assertThrows(IllegalArgumentException.class,
      () -> startRaw(cluster, 0, null));
    assertContains(noListener.getMessage(), "listener");
    IllegalArgumentException badPort = assertThrows(IllegalArgumentException.class,
      () -> startRaw(cluster, 70000, new Responses()));
    assertContains(badPort.getMessage(), "70000");
    IllegalArgumentException noSettings = assertThrows(IllegalArgumentException.class,
      () -> BopNative.start(null, new Responses()));
    assertContains(noSettings.getMessage(), "settings");
    byte[] settings = BopNodeSettings.encode(UUID.randomUUID().toString(), rawOptions(cluster, 0));
    IllegalArgumentException truncated = assertThrows(IllegalArgumentException.class,
      () -> BopNative.start(Arrays.copyOf(settings, settings.length - 3), new Responses()));
    assertContains(truncated.getMessage(), "malformed node settings");
    IllegalArgumentException seedsWithoutSecret = assertThrows(IllegalArgumentException.class,
      () -> BopNative.start(BopNodeSettings.encode("n", rawOptions(cluster, 0).setSeeds(Arrays.asList("127.0.0.1:1"))), new Responses()));
    assertContains(seedsWithoutSecret.getMessage(), "vertx.bop.secret");
  }

  @Test
  public void bad_frames_are_illegal_arguments_and_the_node_keeps_answering() throws Exception {
    Responses responses = new Responses();
    rawHandle = startRaw(Clusters.uniqueName("misuse-frames"), 0, responses);
    long handle = rawHandle;

    IllegalArgumentException nullFrame = assertThrows(IllegalArgumentException.class,
      () -> BopNative.requests(handle, null));
    assertContains(nullFrame.getMessage(), "null");

    byte[] corrupt = BopMessages.mapGet(2, "m", codec.encode("k"));
    corrupt[corrupt.length - 1] ^= 0x5a;
    IllegalArgumentException badChecksum = assertThrows(IllegalArgumentException.class,
      () -> BopNative.requests(handle, corrupt));
    assertContains(badChecksum.getMessage(), "checksum");

    IllegalArgumentException shortFrame = assertThrows(IllegalArgumentException.class,
      () -> BopNative.requests(handle, new byte[8]));
    assertContains(shortFrame.getMessage(), "short frame");

    byte[] oversized = BopMessages.mapPut(3, "m", codec.encode("k"), codec.encode(new byte[2 * MAX_FRAME_SIZE]));
    IllegalArgumentException tooLarge = assertThrows(IllegalArgumentException.class,
      () -> BopNative.requests(handle, oversized));
    assertContains(tooLarge.getMessage(), "exceeds the maximum frame size");
    assertContains(tooLarge.getMessage(), String.valueOf(MAX_FRAME_SIZE));

    // Still serving: a put then a get round-trip through the node.
    byte[] value = codec.encode("v");
    CompletableFuture<BopFrame> put = responses.expect(4);
    BopNative.requests(handle, BopMessages.mapPut(4, "m", codec.encode("k"), value));
    assertFalse(put.get(Clusters.TIMEOUT_SECONDS, TimeUnit.SECONDS).isError());
    CompletableFuture<BopFrame> get = responses.expect(5);
    BopNative.requests(handle, BopMessages.mapGet(5, "m", codec.encode("k")));
    assertArrayEquals(value, BopResponses.optionalBytes(get.get(Clusters.TIMEOUT_SECONDS, TimeUnit.SECONDS)));
    assertEquals(1, BopNodeStatus.decode(BopNative.status(handle)).members().size());

    BopNative.close(handle);
    assertIllegalState(() -> BopNative.close(handle), String.valueOf(handle));
    assertIllegalState(() -> BopNative.requests(handle, BopMessages.mapGet(6, "m", codec.encode("k"))),
      String.valueOf(handle));
    assertIllegalState(() -> BopNative.status(handle), String.valueOf(handle));
  }

  @Test
  public void a_value_above_the_max_frame_size_fails_its_future_and_the_node_keeps_working() throws Exception {
    Vertx vertx = clusters.start(Clusters.options(Clusters.uniqueName("misuse-size")).setMaxFrameSize(MAX_FRAME_SIZE));
    AsyncMap<String, byte[]> map = Clusters.await(vertx.sharedData().getAsyncMap("misuse"));

    Throwable tooLarge = Clusters.failure(map.put("big", new byte[64 * 1024]));
    assertTrue("failure: " + tooLarge, tooLarge instanceof IllegalArgumentException);
    assertContains(tooLarge.getMessage(), "exceeds the maximum frame size");

    // A value whose frame fits but whose replicated command would not: refused before it is
    // proposed, so no log entry is ever too large to reach the followers.
    Throwable noRoom = Clusters.failure(map.put("almost", new byte[MAX_FRAME_SIZE - 200]));
    assertContains(noRoom.getMessage(), "too large to replicate");

    Clusters.await(map.put("small", new byte[]{1, 2, 3}));
    assertArrayEquals(new byte[]{1, 2, 3}, Clusters.await(map.get("small")));
    assertNull(Clusters.await(map.get("big")));
  }

  @Test
  public void shared_data_after_leave_fails_with_illegal_state() throws Exception {
    Vertx vertx = clusters.start(Clusters.options(Clusters.uniqueName("misuse-leave")));
    BopClusterManager cm = Clusters.manager(vertx);
    AsyncMap<String, String> map = Clusters.await(vertx.sharedData().getAsyncMap("misuse"));
    Counter counter = Clusters.await(vertx.sharedData().getCounter("misuse"));
    Map<String, String> syncMap = cm.getSyncMap("misuse");
    Clusters.await(map.put("k", "v"));
    syncMap.put("k", "v");
    assertEquals("v", syncMap.get("k"));

    Promise<Void> left = Promise.promise();
    cm.leave(left);
    Clusters.await(left.future());
    assertFalse(cm.isActive());

    assertIllegalStateFailure(map.put("k", "w"));
    assertIllegalStateFailure(map.get("k"));
    assertIllegalStateFailure(map.size());
    assertIllegalStateFailure(map.entries());
    AsyncMap<String, String> fresh = Clusters.await(vertx.sharedData().getAsyncMap("misuse-" + UUID.randomUUID()));
    assertIllegalStateFailure(fresh.putIfAbsent("k", "v"));
    assertIllegalStateFailure(counter.incrementAndGet());
    assertIllegalStateFailure(vertx.sharedData().getLockWithTimeout("misuse", 1000));

    assertThrows(IllegalStateException.class, () -> syncMap.get("k"));
    assertThrows(IllegalStateException.class, () -> syncMap.put("k", "w"));
    assertThrows(IllegalStateException.class, () -> cm.getSyncMap("misuse").put("k", "w"));
    assertThrows(IllegalStateException.class, () -> cm.<String, String>getSyncMap("other").remove("k"));
  }

  private static BopClusterOptions rawOptions(String clusterName, int port) {
    return new BopClusterOptions().setClusterName(clusterName).setHost("127.0.0.1").setPort(port)
      .setFailureTimeout(2000).setPingInterval(500).setMaxFrameSize(MAX_FRAME_SIZE);
  }

  /** Starts a node through the bare natives (a port out of range is refused while encoding). */
  private static long startRaw(String clusterName, int port, NativeListener listener) {
    return BopNative.start(BopNodeSettings.encode(UUID.randomUUID().toString(), rawOptions(clusterName, port)), listener);
  }

  private static void assertIllegalState(ThrowingRunnable call, String handle) {
    IllegalStateException e = assertThrows(IllegalStateException.class, call);
    assertContains(e.getMessage(), handle);
  }

  private static void assertIllegalStateFailure(Future<?> future) throws Exception {
    Throwable failure = Clusters.failure(future);
    assertTrue("expected an IllegalStateException, got " + failure, failure instanceof IllegalStateException);
  }

  private static void assertContains(String message, String part) {
    assertTrue("\"" + message + "\" should contain \"" + part + "\"", message != null && message.contains(part));
  }

  /** A listener that hands each response frame to the future waiting for its request id. */
  private static final class Responses implements NativeListener {

    private final Map<Integer, CompletableFuture<BopFrame>> waiting = new ConcurrentHashMap<>();

    CompletableFuture<BopFrame> expect(int requestId) {
      return waiting.computeIfAbsent(requestId, id -> new CompletableFuture<>());
    }

    @Override
    public void onResponses(byte[] frames) {
      for (byte[] frame : BopFrame.split(frames)) {
        BopFrame decoded = BopFrame.decode(frame);
        expect(decoded.requestId()).complete(decoded);
      }
    }

    @Override
    public void onNodeAdded(String nodeId) {
    }

    @Override
    public void onNodeLeft(String nodeId) {
    }

    @Override
    public void onRegistrationsChanged(String address, byte[] registrations) {
    }

    @Override
    public void onRejoined() {
    }

    @Override
    public void onStopped(String reason) {
    }
  }
}
