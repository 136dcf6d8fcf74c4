// Generated from the engine's item table (src-tauri/crates/engine/src/item.rs) by
// `cargo test`. Do not edit.
import type { ItemId } from './ItemId';
import type { Unit } from './Unit';

export interface ItemRow {
  label: string;
  title: string;
  unit: Unit;
  forecast: boolean;
}

export const ITEMS: Record<ItemId, ItemRow> = {
  smtpd_processes: { label: "smtpd processes", title: "smtpd processes", unit: "count", forecast: true },
  accept_backlog: { label: "clients waiting for a banner", title: "Clients waiting for a banner", unit: "count", forecast: true },
  client_connections: { label: "connections from one client", title: "Connections from one client", unit: "count", forecast: true },
  queue_disk: { label: "queue free space", title: "Queue free space", unit: "bytes", forecast: true },
  queue_inodes: { label: "queue inodes", title: "Queue inodes", unit: "count", forecast: true },
  active_queue: { label: "active queue", title: "Active queue", unit: "count", forecast: true },
  deferred_queue: { label: "deferred queue", title: "Deferred queue", unit: "count", forecast: true },
  oldest_message: { label: "oldest queued message", title: "Oldest queued message", unit: "seconds", forecast: true },
  cpu: { label: "CPU", title: "CPU", unit: "percent", forecast: false },
  memory: { label: "memory", title: "Memory", unit: "bytes", forecast: true },
  swap: { label: "swap", title: "Swap", unit: "bytes", forecast: true },
  load: { label: "load average", title: "Load average", unit: "load", forecast: false },
  disk_io: { label: "disk I/O", title: "Disk I/O", unit: "percent", forecast: false },
  probe_latency: { label: "probe latency", title: "Probe latency", unit: "millis", forecast: true },
  probe_failures: { label: "consecutive probe failures", title: "Consecutive probe failures", unit: "count", forecast: false },
  remote_throttling: { label: "remote throttling", title: "Remote throttling", unit: "count", forecast: false },
  tls_cert_expiry: { label: "TLS certificate", title: "TLS certificate expiry", unit: "seconds", forecast: true },
  dnsbl: { label: "blocklist listings", title: "Blocklist listings", unit: "count", forecast: false },
  reverse_dns: { label: "reverse DNS problems", title: "Reverse DNS", unit: "count", forecast: false },
  mail_dns: { label: "mail DNS problems", title: "Mail DNS records", unit: "count", forecast: false },
};

export const ITEM_IDS: ItemId[] = ['smtpd_processes', 'accept_backlog', 'client_connections', 'queue_disk', 'queue_inodes', 'active_queue', 'deferred_queue', 'oldest_message', 'cpu', 'memory', 'swap', 'load', 'disk_io', 'probe_latency', 'probe_failures', 'remote_throttling', 'tls_cert_expiry', 'dnsbl', 'reverse_dns', 'mail_dns'];
