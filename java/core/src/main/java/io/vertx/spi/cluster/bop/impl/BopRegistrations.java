package io.vertx.spi.cluster.bop.impl;

import io.vertx.core.spi.cluster.RegistrationInfo;
import io.vertx.core.spi.cluster.RegistrationUpdateEvent;
import io.vertx.spi.cluster.bop.impl.wire.BopMessages;
import io.vertx.spi.cluster.bop.impl.wire.BopResponses;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Event-bus registrations. Local-only registrations stay in this node (never replicated), the
 * others live in the replicated state. Reads are linearizable (a registration completed on any
 * node is seen by the next read anywhere) and merge the node's local-only registrations in.
 * Every change, the node's own included, pushes the address's full new list to the local
 * registration listener, on one thread, coalesced per address (the newest list wins) and only
 * for addresses the listener wants updates for.
 */
public final class BopRegistrations {

  private static final BopLog log = BopLog.get(BopRegistrations.class);

  /**
   * Who hears registration changes: Vert.x 5's {@code RegistrationListener}, Vert.x 4's
   * {@code NodeSelector} (the same two methods).
   */
  public interface Listener {
    boolean wantsUpdatesFor(String address);

    void registrationsUpdated(RegistrationUpdateEvent event);
  }

  private final BopGateway gateway;
  private final Map<String, List<RegistrationInfo>> localOnly = new ConcurrentHashMap<>();
  private final Map<String, List<RegistrationInfo>> pushes = new LinkedHashMap<>();
  private ExecutorService pusher;
  private volatile Listener listener;
  private boolean drainScheduled;

  public BopRegistrations(BopGateway gateway) {
    this.gateway = gateway;
  }

  /** Starts the push thread; called on join. */
  public synchronized void open() {
    synchronized (pushes) {
      pushes.clear();
      drainScheduled = false;
    }
    pusher = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "vertx-bop-registrations");
      t.setDaemon(true);
      return t;
    });
  }

  public void listener(Listener listener) {
    this.listener = listener;
  }

  public CompletableFuture<Void> add(String address, RegistrationInfo info) {
    if (info.localOnly()) {
      localOnly.compute(address, (a, list) -> {
        List<RegistrationInfo> next = list == null ? new ArrayList<>() : new ArrayList<>(list);
        next.add(info);
        return next;
      });
      refresh(address);
      return CompletableFuture.completedFuture(null);
    }
    return gateway.request(id -> BopMessages.addRegistration(id, address, info), BopGateway::empty);
  }

  public CompletableFuture<Void> remove(String address, RegistrationInfo info) {
    if (info.localOnly()) {
      localOnly.computeIfPresent(address, (a, list) -> {
        List<RegistrationInfo> next = new ArrayList<>(list);
        next.remove(info);
        return next.isEmpty() ? null : next;
      });
      refresh(address);
      return CompletableFuture.completedFuture(null);
    }
    return gateway.request(id -> BopMessages.removeRegistration(id, address, info), f -> {
      BopResponses.bool(f);
      return (Void) null;
    });
  }

  /** The cluster's registrations for {@code address} (a linearizable read) plus the local-only ones. */
  public CompletableFuture<List<RegistrationInfo>> get(String address) {
    return read(address);
  }

  /** The cluster's registrations for {@code address} (a linearizable read) plus the local-only ones. */
  private CompletableFuture<List<RegistrationInfo>> read(String address) {
    return gateway.request(id -> BopMessages.getRegistrations(id, address), BopResponses::registrations)
      .thenApply(list -> merge(address, list));
  }

  private List<RegistrationInfo> merge(String address, List<RegistrationInfo> clusterList) {
    List<RegistrationInfo> local = localOnly.get(address);
    if (local == null || local.isEmpty()) {
      return clusterList;
    }
    List<RegistrationInfo> all = new ArrayList<>(clusterList);
    all.addAll(local);
    return all;
  }

  /** A replicated change: the full new cluster list of {@code address}. */
  public void changed(String address, List<RegistrationInfo> clusterList) {
    push(address, merge(address, clusterList));
  }

  /** A local-only change: read the cluster's list, then push the merged one. */
  private void refresh(String address) {
    read(address).whenComplete((list, failure) -> {
      if (failure != null) {
        log.warn("Could not read the registrations of " + address + " after a local change", failure);
        List<RegistrationInfo> local = localOnly.get(address);
        push(address, local == null ? Collections.emptyList() : local);
      } else {
        push(address, list);
      }
    });
  }

  private void push(String address, List<RegistrationInfo> list) {
    synchronized (pushes) {
      pushes.remove(address);
      pushes.put(address, list);
      if (drainScheduled) {
        return;
      }
      drainScheduled = true;
    }
    ExecutorService executor = pusher;
    try {
      executor.execute(this::drain);
    } catch (java.util.concurrent.RejectedExecutionException | NullPointerException closed) {
      // Not in the cluster: nothing to push to.
      synchronized (pushes) {
        pushes.clear();
        drainScheduled = false;
      }
    }
  }

  private void drain() {
    while (true) {
      Map.Entry<String, List<RegistrationInfo>> next;
      synchronized (pushes) {
        if (pushes.isEmpty()) {
          drainScheduled = false;
          return;
        }
        String address = pushes.keySet().iterator().next();
        next = Map.entry(address, pushes.remove(address));
      }
      Listener l = listener;
      if (l == null || !gateway.isActive()) {
        continue;
      }
      try {
        if (l.wantsUpdatesFor(next.getKey())) {
          l.registrationsUpdated(new RegistrationUpdateEvent(next.getKey(), next.getValue()));
        }
      } catch (Throwable t) {
        log.error("The registration listener failed for " + next.getKey(), t);
      }
    }
  }

  /** Stops the push thread and forgets local-only registrations; called on leave. */
  public synchronized void close() {
    if (pusher != null) {
      pusher.shutdown();
    }
    localOnly.clear();
  }
}
