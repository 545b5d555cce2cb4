package io.vertx.spi.cluster.bop.bench;

import io.vertx.core.Vertx;
import io.vertx.core.internal.VertxInternal;
import io.vertx.spi.cluster.bop.BopClusterManager;
import io.vertx.spi.cluster.bop.BopClusterOptions;
import io.vertx.spi.cluster.bop.impl.BopNode;
import io.vertx.spi.cluster.bop.impl.jni.BopNative;
import io.vertx.spi.cluster.bop.impl.wire.BopMessages;

import java.util.Arrays;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * The cost the JNI layer adds per operation. On a one-node cluster, the same request (a counter
 * add, a write that goes through raft) is timed two ways, one request in flight: from Java
 * (encode the frame, cross into native code, the node's event loop, the answer back across the
 * boundary on the callback thread, decode, complete a future) and from Rust inside the same
 * node ({@code Node::call}, no JNI crossing). The difference is what Java and JNI add. Prints
 * figures; asserts nothing.
 */
public final class JniOverheadBench {

  private JniOverheadBench() {
  }

  public static void main(String[] args) throws Exception {
    int iterations = args.length > 0 && args[0].equals("--quick") ? 5_000 : 50_000;
    BopClusterOptions options = new BopClusterOptions().setClusterName("jni-bench-" + UUID.randomUUID());
    Vertx vertx = Vertx.builder().withClusterManager(new BopClusterManager(options)).buildClustered()
      .toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    try {
      BopClusterManager cm = (BopClusterManager) ((VertxInternal) vertx).clusterManager();
      BopNode node = cm.node();
      long[] javaNanos = new long[iterations];
      for (int round = 0; round < 2; round++) {
        for (int i = 0; i < iterations; i++) {
          int id = node.nextRequestId();
          long t0 = System.nanoTime();
          node.call(id, BopMessages.counterAddAndGet(id, "bench", 1), BopMessages::i64).get(10, TimeUnit.SECONDS);
          javaNanos[i] = System.nanoTime() - t0;
        }
      }
      byte[] frame = BopMessages.counterAddAndGet(1, "bench", 1);
      BopNative.timeNativeCalls(node.handle(), frame, iterations / 5);
      long nativeTotal = BopNative.timeNativeCalls(node.handle(), frame, iterations);
      double nativeMeanUs = nativeTotal / 1000.0 / iterations;
      double javaMeanUs = Arrays.stream(javaNanos).average().orElse(0) / 1000.0;
      long[] sorted = javaNanos.clone();
      Arrays.sort(sorted);
      double p50 = sorted[iterations / 2] / 1000.0;
      double p99 = sorted[iterations * 99 / 100] / 1000.0;
      System.out.printf("JNI overhead, 1-node cluster, counter add (a raft write), one request in flight, %d calls%n", iterations);
      System.out.printf("  from Java (frame codec + JNI + callback thread + future): mean %.1f us, p50 %.1f us, p99 %.1f us%n", javaMeanUs, p50, p99);
      System.out.printf("  from Rust in the same node (Node::call):                 mean %.1f us%n", nativeMeanUs);
      double added = javaMeanUs - nativeMeanUs;
      System.out.printf("  added by the Java/JNI layer: %.2f us per operation (goal < 2 us: %s)%n", added, added < 2.0 ? "met" : "not met");
    } finally {
      vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
    System.exit(0);
  }
}
