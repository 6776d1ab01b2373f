// Who wrote a file or opened an association: pacs-server's identity on the wire and in File
// Meta Information (PS3.7 D.3.3.2, PS3.10 7.1).

/** UUID-derived UID under the 2.25 root (PS3.5 B.2). */
export const IMPLEMENTATION_CLASS_UID = '2.25.160979331420063427405096327574440813707';
export const IMPLEMENTATION_VERSION_NAME = 'PACS_SERVER_010';
