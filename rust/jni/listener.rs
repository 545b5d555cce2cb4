//! Calls from the node's callback thread into Java's `NativeListener`.
//!
//! The listener's global reference and method ids are taken in `start`, on a Java thread (a
//! native thread's class lookups would use the system class loader and miss application
//! classes). The callback thread attaches to the JVM as a daemon on first use and stays attached;
//! every call runs in a local frame so its references are freed (an attached thread never frees
//! them otherwise), and a Java exception thrown by the listener is described and cleared.

use std::sync::Mutex;

use jni::objects::{GlobalRef, JMethodID, JObject, JValue};
use jni::signature::{Primitive, ReturnType};
use jni::{JNIEnv, JavaVM};

use crate::fsm::Event;
use crate::wire::codec::Writer;
use crate::wire::{FramedMessage, Message, RegistrationInfo};

pub(crate) struct Listener {
    vm: JavaVM,
    target: GlobalRef,
    /// Response frames not yet handed over, back to back; flushed as one `byte[]` when the
    /// callback thread runs out of work or before an event, so a burst crosses once.
    pending: Mutex<Vec<u8>>,
    on_responses: JMethodID,
    on_node_added: JMethodID,
    on_node_left: JMethodID,
    on_registrations_changed: JMethodID,
    on_rejoined: JMethodID,
    on_stopped: JMethodID,
}

impl Listener {
    pub fn new(env: &mut JNIEnv<'_>, listener: &JObject<'_>) -> jni::errors::Result<Listener> {
        let class = env.get_object_class(listener)?;
        Ok(Listener {
            vm: env.get_java_vm()?,
            target: env.new_global_ref(listener)?,
            pending: Mutex::new(Vec::new()),
            on_responses: env.get_method_id(&class, "onResponses", "([B)V")?,
            on_node_added: env.get_method_id(&class, "onNodeAdded", "(Ljava/lang/String;)V")?,
            on_node_left: env.get_method_id(&class, "onNodeLeft", "(Ljava/lang/String;)V")?,
            on_registrations_changed: env.get_method_id(
                &class,
                "onRegistrationsChanged",
                "(Ljava/lang/String;[B)V",
            )?,
            on_rejoined: env.get_method_id(&class, "onRejoined", "()V")?,
            on_stopped: env.get_method_id(&class, "onStopped", "(Ljava/lang/String;)V")?,
        })
    }

    /// Queues a response frame for the next [`Listener::flush`].
    pub fn response(&self, request_id: u32, response: Message) {
        let framed = FramedMessage::response(request_id, response);
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = framed.encode_into(&mut pending, usize::MAX) {
            log::error!("cannot encode a response for Java: {e}");
        }
    }

    /// Hands every queued response frame to Java in one call.
    pub fn flush(&self) {
        let frames = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if frames.is_empty() {
            return;
        }
        self.call(|env, l| {
            let bytes = JObject::from(env.byte_array_from_slice(&frames)?);
            invoke(env, &l.target, l.on_responses, &[JValue::Object(&bytes)])
        });
    }

    /// Hands an event to Java; lock events are settled inside the node and not passed on.
    pub fn event(&self, event: Event) {
        // Answers produced before the event reach Java before it.
        self.flush();
        match event {
            Event::NodeAdded { node_id } => self.call(|env, l| {
                let id = JObject::from(env.new_string(&node_id)?);
                invoke(env, &l.target, l.on_node_added, &[JValue::Object(&id)])
            }),
            Event::NodeLeft { node_id } => self.call(|env, l| {
                let id = JObject::from(env.new_string(&node_id)?);
                invoke(env, &l.target, l.on_node_left, &[JValue::Object(&id)])
            }),
            Event::RegistrationsChanged {
                address,
                registrations,
            } => {
                let encoded = encode_registrations(&registrations);
                self.call(|env, l| {
                    let address = JObject::from(env.new_string(&address)?);
                    let list = JObject::from(env.byte_array_from_slice(&encoded)?);
                    let args = [JValue::Object(&address), JValue::Object(&list)];
                    invoke(env, &l.target, l.on_registrations_changed, &args)
                })
            }
            Event::Rejoined { .. } => {
                self.call(|env, l| invoke(env, &l.target, l.on_rejoined, &[]));
            }
            Event::LockGranted { .. } | Event::LockWaitExpired { .. } => {}
        }
    }

    /// Tells Java the node's loop stopped by itself, and why.
    pub fn stopped(&self, why: &str) {
        self.flush();
        self.call(|env, l| {
            let why = JObject::from(env.new_string(why)?);
            invoke(env, &l.target, l.on_stopped, &[JValue::Object(&why)])
        });
    }

    fn call(&self, f: impl FnOnce(&mut JNIEnv<'_>, &Listener) -> jni::errors::Result<()>) {
        let mut env = match self.vm.attach_current_thread_as_daemon() {
            Ok(env) => env,
            Err(e) => {
                log::error!("cannot attach the callback thread to the JVM: {e}");
                return;
            }
        };
        let outcome = env.with_local_frame(8, |env| f(env, self));
        if env.exception_check().unwrap_or(false) {
            let _ = env.exception_describe();
            let _ = env.exception_clear();
        } else if let Err(e) = outcome {
            log::error!("calling the Java listener failed: {e}");
        }
    }
}

/// Calls a cached `void` method of the listener.
fn invoke(
    env: &mut JNIEnv<'_>,
    target: &GlobalRef,
    method: JMethodID,
    args: &[JValue<'_, '_>],
) -> jni::errors::Result<()> {
    let raw: Vec<jni::sys::jvalue> = args.iter().map(JValue::as_jni).collect();
    // SAFETY: `method` was looked up on the listener's own class with exactly the signature
    // whose argument list `args` follows (checked in `Listener::new`), and it returns void.
    unsafe {
        env.call_method_unchecked(target, method, ReturnType::Primitive(Primitive::Void), &raw)?;
    }
    Ok(())
}

/// `u32` LE count, then each registration in the wire protocol's encoding.
pub(crate) fn encode_registrations(list: &[RegistrationInfo]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + list.len() * 48);
    let mut w = Writer::new(&mut out);
    w.put(&list.to_vec());
    out
}
