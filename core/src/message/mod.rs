//! Messages (messages.md): properties, stored records, ids, tags, compression, batches.
