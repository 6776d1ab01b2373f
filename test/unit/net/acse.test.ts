// Association negotiation: which transfer syntax each presentation context gets, what the
// A-ASSOCIATE-AC answers, how an A-ASSOCIATE-RQ is numbered, and AE title wildcards.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  IMPLEMENTATION_CLASS_UID,
  IMPLEMENTATION_VERSION_NAME,
  type PresentationPolicy,
  aeTitleMatches,
  buildAssociateAC,
  buildAssociateRQ,
  negotiateContexts,
} from '../../../src/net/acse.js';
import { DICOM_APPLICATION_CONTEXT, PcResult, PduType, type AssociateRQ, type RoleSelection, type UserIdentityRQ } from '../../../src/net/pdu/types.js';

const VERIFICATION = '1.2.840.10008.1.1';
const CT = '1.2.840.10008.5.1.4.1.1.2';
const MR = '1.2.840.10008.5.1.4.1.1.4';
const FIND = '1.2.840.10008.5.1.4.1.2.2.1';
const UNKNOWN_SOP = '1.2.3.4.5.6';
const IMPLICIT = '1.2.840.10008.1.2';
const EXPLICIT = '1.2.840.10008.1.2.1';
const BIG = '1.2.840.10008.1.2.2';
const JPEG_LS = '1.2.840.10008.1.2.4.80';

/** Storage takes the proposer's preference; everything else ours (explicit first). */
const policy: PresentationPolicy = {
  transferSyntaxesFor: (as) => (as === CT || as === MR ? [EXPLICIT, IMPLICIT, JPEG_LS] : as === VERIFICATION || as === FIND ? [EXPLICIT, IMPLICIT] : null),
  preference: (as) => (as === CT || as === MR ? 'proposer' : 'ours'),
  roles: (r: RoleSelection) => (r.sopClass === CT ? { sopClass: CT, scuRole: false, scpRole: r.scpRole } : null),
};

function request(contexts: { abstractSyntax: string; transferSyntaxes: string[] }[], extra: Partial<AssociateRQ['userInformation']> = {}): AssociateRQ {
  const rq = buildAssociateRQ({ callingAETitle: 'MODALITY', calledAETitle: 'PACS', maxPduLength: 16384, contexts });
  Object.assign(rq.userInformation, extra);
  return rq;
}

const identity = (positiveResponseRequested: boolean): UserIdentityRQ => ({
  type: 2,
  positiveResponseRequested,
  primaryField: Buffer.from('user'),
  secondaryField: Buffer.from('secret'),
});

describe('negotiateContexts', () => {
  test("'proposer': the first acceptable in the requestor's order", () => {
    const ac = negotiateContexts(
      request([
        { abstractSyntax: CT, transferSyntaxes: [JPEG_LS, IMPLICIT, EXPLICIT] },
        { abstractSyntax: MR, transferSyntaxes: [BIG, IMPLICIT, EXPLICIT] },
      ]),
      policy,
    );
    assert.deepEqual(ac, [
      { id: 1, result: PcResult.Acceptance, transferSyntax: JPEG_LS },
      { id: 3, result: PcResult.Acceptance, transferSyntax: IMPLICIT },
    ]);
  });

  test("'ours': the first of our list that was proposed", () => {
    const ac = negotiateContexts(
      request([
        { abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT, EXPLICIT] },
        { abstractSyntax: FIND, transferSyntaxes: [BIG, IMPLICIT] },
      ]),
      policy,
    );
    assert.deepEqual(ac, [
      { id: 1, result: PcResult.Acceptance, transferSyntax: EXPLICIT },
      { id: 3, result: PcResult.Acceptance, transferSyntax: IMPLICIT },
    ]);
  });

  test('an unsupported abstract syntax: result 3; no common transfer syntax: result 4', () => {
    const ac = negotiateContexts(
      request([
        { abstractSyntax: UNKNOWN_SOP, transferSyntaxes: [EXPLICIT] },
        { abstractSyntax: CT, transferSyntaxes: [BIG] },
        { abstractSyntax: VERIFICATION, transferSyntaxes: [BIG] },
        { abstractSyntax: '', transferSyntaxes: [EXPLICIT] },
        { abstractSyntax: MR, transferSyntaxes: [] },
      ]),
      policy,
    );
    assert.equal(PcResult.AbstractSyntaxNotSupported, 3);
    assert.equal(PcResult.TransferSyntaxesNotSupported, 4);
    assert.deepEqual(
      ac.map((c) => [c.id, c.result, c.transferSyntax]),
      [
        [1, 3, ''],
        [3, 4, ''],
        [5, 4, ''],
        [7, 3, ''],
        [9, 4, ''],
      ],
    );
  });

  test('the ids of the request are answered as they are, one answer per context', () => {
    const rq = request([{ abstractSyntax: CT, transferSyntaxes: [EXPLICIT] }]);
    rq.presentationContexts = [
      { id: 77, abstractSyntax: CT, transferSyntaxes: [EXPLICIT] },
      { id: 5, abstractSyntax: CT, transferSyntaxes: [IMPLICIT] },
    ];
    assert.deepEqual(
      negotiateContexts(rq, policy).map((c) => [c.id, c.transferSyntax]),
      [
        [77, EXPLICIT],
        [5, IMPLICIT],
      ],
    );
  });
});

describe('buildAssociateAC', () => {
  const local = { maxPduLength: 65536 };

  test('echoes the AE titles, our identity and the negotiated contexts', () => {
    const rq = request([{ abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT] }]);
    const ac = buildAssociateAC(rq, policy, local);
    assert.equal(ac.type, PduType.AssociateAC);
    assert.equal(ac.protocolVersion, 1);
    assert.equal(ac.calledAETitle, 'PACS');
    assert.equal(ac.callingAETitle, 'MODALITY');
    assert.equal(ac.applicationContext, DICOM_APPLICATION_CONTEXT);
    assert.deepEqual(ac.presentationContexts, [{ id: 1, result: 0, transferSyntax: IMPLICIT }]);
    assert.equal(ac.userInformation.maxPduLength, 65536);
    assert.equal(ac.userInformation.implementationClassUID, IMPLEMENTATION_CLASS_UID);
    assert.equal(ac.userInformation.implementationVersionName, IMPLEMENTATION_VERSION_NAME);
    const own = buildAssociateAC(rq, policy, { maxPduLength: 0, implementationClassUID: '1.2.3', implementationVersionName: 'OTHER' });
    assert.equal(own.userInformation.implementationClassUID, '1.2.3');
    assert.equal(own.userInformation.implementationVersionName, 'OTHER');
  });

  test('asynchronous operations window: 1/1 only when proposed', () => {
    const contexts = [{ abstractSyntax: CT, transferSyntaxes: [EXPLICIT] }];
    assert.equal(buildAssociateAC(request(contexts), policy, local).userInformation.asyncOpsWindow, null);
    const ac = buildAssociateAC(request(contexts, { asyncOpsWindow: { invoked: 16, performed: 8 } }), policy, local);
    assert.deepEqual(ac.userInformation.asyncOpsWindow, { invoked: 1, performed: 1 });
  });

  test('role selection: answered per SOP class as the policy says', () => {
    const contexts = [{ abstractSyntax: CT, transferSyntaxes: [EXPLICIT] }];
    const ac = buildAssociateAC(
      request(contexts, {
        roleSelections: [
          { sopClass: CT, scuRole: true, scpRole: true },
          { sopClass: MR, scuRole: true, scpRole: true },
        ],
      }),
      policy,
      local,
    );
    assert.deepEqual(ac.userInformation.roleSelections, [{ sopClass: CT, scuRole: false, scpRole: true }]);
    const noRoles: PresentationPolicy = { transferSyntaxesFor: policy.transferSyntaxesFor, preference: policy.preference };
    const none = buildAssociateAC(request(contexts, { roleSelections: [{ sopClass: CT, scuRole: true, scpRole: true }] }), noRoles, local);
    assert.deepEqual(none.userInformation.roleSelections, [], 'no roles() in the policy: no answer items');
  });

  test('user identity response only when a positive response was requested', () => {
    const contexts = [{ abstractSyntax: CT, transferSyntaxes: [EXPLICIT] }];
    const response = Buffer.from('server-response');
    const asked = buildAssociateAC(request(contexts, { userIdentity: identity(true) }), policy, local, response);
    assert.deepEqual(asked.userInformation.userIdentityResponse, response);
    const notAsked = buildAssociateAC(request(contexts, { userIdentity: identity(false) }), policy, local, response);
    assert.equal(notAsked.userInformation.userIdentityResponse, null);
    const noIdentity = buildAssociateAC(request(contexts), policy, local, response);
    assert.equal(noIdentity.userInformation.userIdentityResponse, null);
    const nothingToSay = buildAssociateAC(request(contexts, { userIdentity: identity(true) }), policy, local);
    assert.equal(nothingToSay.userInformation.userIdentityResponse, null);
  });
});

describe('buildAssociateRQ', () => {
  test('presentation context ids are 1, 3, 5, ...', () => {
    const contexts = Array.from({ length: 128 }, (_, i) => ({ abstractSyntax: `1.2.3.${i}`, transferSyntaxes: [EXPLICIT, IMPLICIT] }));
    const rq = buildAssociateRQ({ callingAETitle: 'SCU', calledAETitle: 'SCP', maxPduLength: 32768, contexts });
    assert.deepEqual(
      rq.presentationContexts.map((c) => c.id),
      contexts.map((_, i) => 2 * i + 1),
    );
    assert.equal(rq.presentationContexts.at(-1)!.id, 255);
    assert.deepEqual(rq.presentationContexts[2], { id: 5, abstractSyntax: '1.2.3.2', transferSyntaxes: [EXPLICIT, IMPLICIT] });
    assert.equal(rq.type, PduType.AssociateRQ);
    assert.equal(rq.callingAETitle, 'SCU');
    assert.equal(rq.calledAETitle, 'SCP');
    assert.equal(rq.applicationContext, DICOM_APPLICATION_CONTEXT);
    assert.equal(rq.userInformation.maxPduLength, 32768);
    assert.equal(rq.userInformation.implementationClassUID, IMPLEMENTATION_CLASS_UID);
    assert.equal(rq.userInformation.implementationVersionName, IMPLEMENTATION_VERSION_NAME);
    assert.deepEqual(rq.userInformation.roleSelections, []);
    assert.equal(rq.userInformation.userIdentity, null);
    assert.equal(rq.userInformation.asyncOpsWindow, null);
  });

  test('role selections and user identity are carried', () => {
    const roles = [{ sopClass: CT, scuRole: false, scpRole: true }];
    const rq = buildAssociateRQ({
      callingAETitle: 'SCU',
      calledAETitle: 'SCP',
      maxPduLength: 0,
      contexts: [{ abstractSyntax: CT, transferSyntaxes: [EXPLICIT] }],
      roleSelections: roles,
      userIdentity: identity(true),
    });
    assert.deepEqual(rq.userInformation.roleSelections, roles);
    assert.deepEqual(rq.userInformation.userIdentity, identity(true));
  });

  test('more than 128 contexts do not fit in one association', () => {
    const contexts = Array.from({ length: 129 }, (_, i) => ({ abstractSyntax: `1.2.3.${i}`, transferSyntaxes: [EXPLICIT] }));
    assert.throws(() => buildAssociateRQ({ callingAETitle: 'A', calledAETitle: 'B', maxPduLength: 0, contexts }), /128/);
  });
});

describe('aeTitleMatches', () => {
  test('exact titles, case-sensitive', () => {
    assert.equal(aeTitleMatches('CT_SCANNER', 'CT_SCANNER'), true);
    assert.equal(aeTitleMatches('CT_SCANNER', 'ct_scanner'), false);
    assert.equal(aeTitleMatches('CT', 'CT_SCANNER'), false, 'anchored at the end');
    assert.equal(aeTitleMatches('SCANNER', 'CT_SCANNER'), false, 'anchored at the start');
  });

  test('* matches any run (also none), ? one character', () => {
    assert.equal(aeTitleMatches('CT_*', 'CT_1'), true);
    assert.equal(aeTitleMatches('CT_*', 'CT_'), true);
    assert.equal(aeTitleMatches('CT_*', 'MR_1'), false);
    assert.equal(aeTitleMatches('*', 'ANYTHING'), true);
    assert.equal(aeTitleMatches('*SCAN*', 'MY_SCANNER'), true);
    assert.equal(aeTitleMatches('CT?', 'CT1'), true);
    assert.equal(aeTitleMatches('CT?', 'CT'), false);
    assert.equal(aeTitleMatches('CT?', 'CT12'), false);
    assert.equal(aeTitleMatches('C?_*', 'CT_A'), true);
  });

  test('regular expression characters in titles are taken literally', () => {
    assert.equal(aeTitleMatches('A.B', 'A.B'), true);
    assert.equal(aeTitleMatches('A.B', 'AXB'), false);
    assert.equal(aeTitleMatches('A+', 'AA'), false);
    assert.equal(aeTitleMatches('A+', 'A+'), true);
    assert.equal(aeTitleMatches('(A|B)', 'A'), false);
    assert.equal(aeTitleMatches('(A|B)', '(A|B)'), true);
    assert.equal(aeTitleMatches('[AB]', 'A'), false);
    assert.equal(aeTitleMatches('[AB]', '[AB]'), true);
    assert.equal(aeTitleMatches('A{2}', 'AA'), false);
    assert.equal(aeTitleMatches('A{2}', 'A{2}'), true);
    assert.equal(aeTitleMatches('^A$', '^A$'), true);
    assert.equal(aeTitleMatches('^A$', 'A'), false);
    assert.equal(aeTitleMatches('A\\d', 'A\\d'), true);
    assert.equal(aeTitleMatches('A\\d', 'A1'), false);
    assert.equal(aeTitleMatches('A-Z', 'A-Z'), true);
    assert.equal(aeTitleMatches('A.*', 'A.XYZ'), true, 'a literal dot then a wildcard');
    assert.equal(aeTitleMatches('A.*', 'AXYZ'), false);
  });

  test('padding spaces are ignored on both sides', () => {
    assert.equal(aeTitleMatches('PACS', 'PACS      '), true);
    assert.equal(aeTitleMatches('PACS  ', 'PACS'), true);
    assert.equal(aeTitleMatches(' CT_* ', ' CT_9  '), true);
    assert.equal(aeTitleMatches('MY AE', 'MY AE   '), true, 'inner spaces are significant');
    assert.equal(aeTitleMatches('MY AE', 'MYAE'), false);
  });
});
