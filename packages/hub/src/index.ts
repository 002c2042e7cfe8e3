/** @tablemesh/hub — placeholder until its issue lands; see README "what goes where". */
export const packageName = '@tablemesh/hub';
