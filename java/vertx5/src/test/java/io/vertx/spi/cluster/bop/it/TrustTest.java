package io.vertx.spi.cluster.bop.it;

import io.vertx.core.Vertx;
import io.vertx.core.shareddata.AsyncMap;
import io.vertx.spi.cluster.bop.BopClusterManager;
import io.vertx.spi.cluster.bop.BopClusterOptions;
import io.vertx.spi.cluster.bop.impl.BopValueCodec;
import io.vertx.spi.cluster.bop.impl.wire.BopFrame;
import io.vertx.spi.cluster.bop.impl.wire.BopWireWriter;
import org.junit.After;
import org.junit.Test;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

/**
 * Who may talk to a cluster of clustered Vert.x instances, over real sockets: a forged
 * {@code ForwardProposals} frame from a plain socket (the attack that once wrote into any map)
 * changes nothing and its connection is closed; a node with seeds and no secret refuses to start,
 * naming the setting; a node with the wrong secret cannot join a seeded cluster.
 */
public class TrustTest {

  private static final int MAP_PUT_REQUEST = 0x0303;
  private static final int FORWARD_PROPOSALS = 0x0904;

  private final Clusters clusters = new Clusters();

  @After
  public void tearDown() {
    clusters.closeAll();
  }

  @Test
  public void a_forged_write_from_a_plain_socket_changes_nothing() throws Exception {
    String name = Clusters.uniqueName("trust-forged");
    List<Vertx> nodes = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      nodes.add(clusters.start(Clusters.options(name)));
    }
    BopClusterManager first = Clusters.manager(nodes.get(0));
    for (Vertx vertx : nodes) {
      BopClusterManager cm = Clusters.manager(vertx);
      long refusedBefore = cm.node().status().counter("handshakes_refused");
      String[] address = cm.node().address().split(":");
      try (Socket socket = new Socket()) {
        socket.connect(new InetSocketAddress(address[0], Integer.parseInt(address[1])), 5000);
        socket.getOutputStream().write(forgedPut(first.getNodeId(), new BopValueCodec(TrustTest.class.getClassLoader(), java.util.Collections.emptyList())));
        socket.setSoTimeout(10_000);
        assertTrue("the node kept the stranger's connection open", closedByNode(socket));
      }
      long deadline = System.currentTimeMillis() + 10_000;
      while (cm.node().status().counter("handshakes_refused") == refusedBefore) {
        assertTrue("the refusal was not counted", System.currentTimeMillis() < deadline);
        Thread.sleep(20);
      }
      assertEquals(0L, cm.node().status().counter("malformed_frames"));
    }
    for (Vertx vertx : nodes) {
      AsyncMap<String, String> map = Clusters.await(vertx.sharedData().getAsyncMap("m"));
      assertNull("the forged write was applied", Clusters.await(map.get("z")));
    }
    AsyncMap<String, String> map = Clusters.await(nodes.get(1).sharedData().getAsyncMap("m"));
    Clusters.await(map.put("k", "v"));
    AsyncMap<String, String> other = Clusters.await(nodes.get(2).sharedData().getAsyncMap("m"));
    assertEquals("v", Clusters.await(other.get("k")));
  }

  @Test
  public void seeds_without_a_secret_refuse_to_start_and_name_the_setting() throws Exception {
    BopClusterOptions options = Clusters.options(Clusters.uniqueName("trust-seeds"))
      .setSeeds(Arrays.asList("127.0.0.1:" + freePort()));
    Throwable failure = Clusters.failure(Vertx.builder().withClusterManager(new BopClusterManager(options)).buildClustered());
    String message = String.valueOf(failure.getMessage());
    assertTrue(message, message.contains("vertx.bop.secret") && message.contains("vertx.bop.insecure=true"));
  }

  @Test
  public void a_node_with_another_secret_cannot_join_a_seeded_cluster() throws Exception {
    String name = Clusters.uniqueName("trust-secret");
    // Ascending, so that the first node started holds the smallest seed address: the one that
    // bootstraps.
    int[] ports = {freePort(), freePort(), freePort()};
    Arrays.sort(ports);
    List<String> seeds = new ArrayList<>();
    for (int port : ports) {
      seeds.add("127.0.0.1:" + port);
    }
    String secret = "the secret of this seeded cluster";
    Vertx a = clusters.start(seeded(name, seeds, ports[0]).setSecret(secret));
    clusters.start(seeded(name, seeds, ports[1]).setSecret(secret));
    assertEquals(2, Clusters.manager(a).getNodes().size());

    BopClusterOptions stranger = seeded(name, seeds, ports[2]).setSecret("another secret of enough bytes")
      .setJoinTimeout(3000);
    Throwable failure = Clusters.failure(Vertx.builder().withClusterManager(new BopClusterManager(stranger)).buildClustered());
    assertTrue("expected a failed join, got " + failure, failure != null);
    assertEquals(2, Clusters.manager(a).getNodes().size());
    assertTrue(Clusters.manager(a).node().status().counter("handshakes_refused") > 0);
  }

  private static BopClusterOptions seeded(String name, List<String> seeds, int port) {
    return Clusters.options(name).setHost("127.0.0.1").setPort(port).setSeeds(seeds);
  }

  /**
   * A follower's forwarded put in the name of {@code origin}. A frame's first two bytes, the low
   * half of its CRC, read as a handshake record's length; the request id is chosen so that the
   * length is over the 1 KiB record limit and the node refuses the stranger at once (for about one
   * frame in 64 the node would instead wait for the rest of the record until its handshake
   * deadline, and count a timed-out handshake).
   */
  private static byte[] forgedPut(String origin, BopValueCodec codec) {
    BopWireWriter put = new BopWireWriter();
    put.string("m").bytes(codec.encode("z")).bytes(codec.encode("pwned"));
    byte[] payload = put.toByteArray();
    for (int requestId = 4242; ; requestId++) {
      BopWireWriter w = BopFrame.start(0, FORWARD_PROPOSALS, 0);
      w.count(1).string(origin).u32(requestId).u32(0).u16(MAP_PUT_REQUEST).bytes(payload);
      byte[] frame = BopFrame.finish(w);
      int recordLength = 2 + ((frame[0] & 0xff) | (frame[1] & 0xff) << 8);
      if (recordLength > 1024) {
        return frame;
      }
    }
  }

  private static boolean closedByNode(Socket socket) throws IOException {
    InputStream in = socket.getInputStream();
    byte[] scratch = new byte[1024];
    try {
      while (true) {
        // A refusal record may come before the close.
        if (in.read(scratch) < 0) {
          return true;
        }
      }
    } catch (SocketException reset) {
      return true;
    } catch (java.net.SocketTimeoutException stillOpen) {
      return false;
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    }
  }
}
